import { describe, expect, it } from 'vitest';
import { nodeIdentity, privateDnsName, providerId } from './node-identity.js';

describe('EKS node identity', () => {
  it('names nodes after the instance private DNS name, us-east-1 included', () => {
    expect(privateDnsName('192.168.12.34', 'us-west-2')).toBe(
      'ip-192-168-12-34.us-west-2.compute.internal',
    );
    expect(privateDnsName('10.0.1.5', 'us-east-1')).toBe('ip-10-0-1-5.ec2.internal');
    expect(providerId('us-west-2a', 'i-0123456789abcdef0')).toBe(
      'aws:///us-west-2a/i-0123456789abcdef0',
    );
  });

  it('labels a managed node group node as EKS does, with capacity from the instance table', () => {
    const identity = nodeIdentity({
      instanceId: 'i-0123456789abcdef0',
      instanceType: 'm5.large',
      privateIp: '192.168.40.7',
      availabilityZone: 'us-west-2b',
      region: 'us-west-2',
      nodeGroup: 'nodegroup-sec-group',
      managed: true,
      imageId: 'ami-0123456789abcdef0',
      extraLabels: { role: 'sgp' },
      clusterName: 'eksworkshop-eksctl',
    });
    expect(identity.name).toBe('ip-192-168-40-7.us-west-2.compute.internal');
    expect(identity.labels).toMatchObject({
      role: 'sgp',
      'eks.amazonaws.com/nodegroup': 'nodegroup-sec-group',
      // eksctl's own labels, which the workshop selects on (--selector alpha.eksctl.io/...).
      'alpha.eksctl.io/nodegroup-name': 'nodegroup-sec-group',
      'alpha.eksctl.io/cluster-name': 'eksworkshop-eksctl',
      'eks.amazonaws.com/nodegroup-image': 'ami-0123456789abcdef0',
      'node.kubernetes.io/instance-type': 'm5.large',
      'topology.kubernetes.io/zone': 'us-west-2b',
      'kubernetes.io/hostname': 'ip-192-168-40-7.us-west-2.compute.internal',
    });
    expect(identity.capacity).toEqual({ cpu: '2', memory: '8388608Ki', pods: '29' });
    expect(() => nodeIdentity({ ...identityInput(), instanceType: 'x9.none' })).toThrow(
      'unknown instance type',
    );
  });
});

function identityInput() {
  return {
    instanceId: 'i-1',
    instanceType: 't3.large',
    privateIp: '192.168.1.1',
    availabilityZone: 'us-west-2a',
    region: 'us-west-2',
    nodeGroup: 'ng',
    managed: false,
    imageId: 'ami-1',
  };
}
