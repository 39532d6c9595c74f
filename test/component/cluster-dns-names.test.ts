/**
 * Cluster DNS names and pods' resolv.conf, as CoreDNS and the kubelet make them: Service and
 * pod names, headless Services' ready endpoints, NXDOMAIN vs no data; resolv.conf for
 * ClusterFirst, ClusterFirstWithHostNet, Default and None (with dnsConfig merged).
 */
import { describe, expect, it } from 'vitest';
import type { KubeResource } from '../../src/adapters/kube/kube-http-client.js';
import { lookUpClusterName } from '../../src/servers/kube/runtime/cluster-dns.js';
import { podResolvConf } from '../../src/servers/kube/runtime/kubelet/pod-sandbox.js';

const services: KubeResource[] = [
  { metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '10.100.0.7' } },
  { metadata: { name: 'db', namespace: 'shop' }, spec: { clusterIP: 'None' } },
];
const slices: KubeResource[] = [
  {
    metadata: { name: 'db-x', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'db' } },
    endpoints: [
      { addresses: ['10.244.2.5'], conditions: { ready: true } },
      { addresses: ['10.244.1.9'], conditions: { ready: true } },
      { addresses: ['10.244.1.3'], conditions: { ready: false } },
    ],
  },
];
const look = (name: string) => lookUpClusterName(name, 'cluster.local', services, slices);

describe('cluster DNS names', () => {
  it('answers Services, headless Services and pods', () => {
    expect(look('web.shop.svc.cluster.local')).toEqual({
      kind: 'addresses',
      addresses: ['10.100.0.7'],
    });
    expect(look('db.shop.svc.cluster.local')).toEqual({
      kind: 'addresses',
      addresses: ['10.244.1.9', '10.244.2.5'],
    });
    expect(look('10-244-1-3.shop.pod.cluster.local')).toEqual({
      kind: 'addresses',
      addresses: ['10.244.1.3'],
    });
  });

  it('tells names that exist without addresses from names that do not exist', () => {
    for (const name of [
      'cluster.local',
      'svc.cluster.local',
      'shop.svc.cluster.local',
      'shop.pod.cluster.local',
    ])
      expect(look(name)).toEqual({ kind: 'empty' });
    for (const name of [
      'web.other.svc.cluster.local',
      'web.shop.default.svc.cluster.local',
      'web.shop.cluster.local',
      'x-y.shop.pod.cluster.local',
      'elsewhere.cluster.local',
    ])
      expect(look(name)).toEqual({ kind: 'missing' });
  });
});

describe("pods' resolv.conf", () => {
  const node = 'search ec2.internal\nnameserver 192.168.0.2\n';
  const dns = { nameserver: '10.100.0.10', domain: 'cluster.local' };

  it('points ClusterFirst pods at cluster DNS, with the search path and ndots:5', () => {
    expect(podResolvConf({}, 'shop', node, dns)).toBe(
      'search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.100.0.10\noptions ndots:5\n',
    );
    // hostNetwork falls back to the node's resolver unless ClusterFirstWithHostNet.
    expect(podResolvConf({ hostNetwork: true }, 'shop', node, dns)).toBe(
      'search ec2.internal\nnameserver 192.168.0.2\n',
    );
    expect(
      podResolvConf(
        { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' },
        'kube-system',
        node,
        dns,
      ),
    ).toContain('nameserver 10.100.0.10');
  });

  it("gives Default pods the node's file, None pods only their dnsConfig", () => {
    expect(podResolvConf({ dnsPolicy: 'Default' }, 'shop', node, dns)).toBe(node);
    expect(
      podResolvConf(
        {
          dnsPolicy: 'None',
          dnsConfig: {
            nameservers: ['1.2.3.4'],
            searches: ['a.b'],
            options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }],
          },
        },
        'shop',
        node,
        dns,
      ),
    ).toBe('search a.b\nnameserver 1.2.3.4\noptions ndots:2 edns0\n');
  });
});
