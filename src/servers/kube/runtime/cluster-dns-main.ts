/**
 * The cluster DNS image's program (`sgpods/cluster-dns` in the image catalogue): runs in the DNS
 * pods as an in-cluster client, serves port 53 (UDP and TCP) on every address of the pod, and
 * forwards what is not the cluster's to the nameservers of its own /etc/resolv.conf (dnsPolicy
 * Default: the node's). Usage: cluster-dns-main.js [domain].
 */
import { readFileSync } from 'node:fs';
import { inClusterConnection } from '../../../adapters/kube/in-cluster.js';
import { KubeHttpClient } from '../../../adapters/kube/kube-http-client.js';
import { ClusterDns } from './cluster-dns.js';

const domain = process.argv[2] ?? 'cluster.local';
const upstreams = readFileSync('/etc/resolv.conf', 'utf8')
  .split('\n')
  .map((line) => /^nameserver\s+(\S+)/.exec(line)?.[1])
  .filter((address): address is string => address !== undefined && !address.includes(':'));
const dns = new ClusterDns({
  client: new KubeHttpClient(inClusterConnection('sgpods-cluster-dns/1.0')),
  domain,
  upstreams,
  addresses: ['0.0.0.0'],
  port: 53,
  onError: (error) => {
    process.stderr.write(
      `cluster-dns: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  },
});
await dns.start();
process.stdout.write(
  `cluster-dns: serving ${domain} on :53, forwarding to ${upstreams.join(', ') || 'nothing'}\n`,
);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void dns.close().then(() => process.exit(0));
  });
}
