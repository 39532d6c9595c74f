/**
 * kube-proxy's rules as one nftables table per node, pure: every ClusterIP port jumps (by an
 * `ip daddr . l4proto . dport` verdict map) to a chain that picks a ready endpoint by a hash of
 * the client's address and port and DNATs to it, in PREROUTING (pods' traffic through the node) and OUTPUT (the node's own);
 * traffic a pod sends to itself through its Service is masqueraded (hairpin); ports without an
 * endpoint are rejected, as kube-proxy rejects them.
 */

export const proxyTable = 'sgpods-proxy';

// Why a hash and not kube-proxy's random pick: glibc sends a name's A and AAAA queries at once
// from one socket; picked at random, the two packets of that one UDP flow can get different
// DNATs, and conntrack drops the second (the infamous 5 s DNS delay). Hashed on the client's
// address and port, they get the same backend, which conntrack's clash resolution accepts.
const hairpinMark = '0x4000';

export interface ProxyEndpoint {
  readonly ip: string;
  readonly port: number;
}

export interface ProxyServicePort {
  /** `namespace/name:port-name`, for comments. */
  readonly id: string;
  readonly clusterIp: string;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly endpoints: readonly ProxyEndpoint[];
}

/** The whole table, replacing any previous version atomically (one `nft -f` transaction). */
export function proxyRuleset(ports: readonly ProxyServicePort[]): string {
  const sorted = [...ports].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const served = sorted.filter((port) => port.endpoints.length > 0);
  const unserved = sorted.filter((port) => port.endpoints.length === 0);
  const key = (port: ProxyServicePort) => `${port.clusterIp} . ${port.protocol} . ${port.port}`;
  const chains: string[] = [];
  served.forEach((port, index) => {
    const picks = port.endpoints.map((_, endpoint) => `${endpoint} : jump ep_${index}_${endpoint}`);
    chains.push(
      `  chain svc_${index} {\n    jhash ip saddr . th sport mod ${port.endpoints.length} vmap { ${picks.join(', ')} } comment "${port.id}"\n  }`,
    );
    port.endpoints.forEach((endpoint, number) => {
      chains.push(
        [
          `  chain ep_${index}_${number} {`,
          `    ip saddr ${endpoint.ip} meta mark set meta mark or ${hairpinMark}`,
          `    meta l4proto ${port.protocol} dnat to ${endpoint.ip}:${endpoint.port}`,
          '  }',
        ].join('\n'),
      );
    });
  });
  const dispatch =
    served.length > 0
      ? `    ip daddr . meta l4proto . th dport vmap { ${served.map((port, index) => `${key(port)} : jump svc_${index}`).join(', ')} }`
      : '';
  const rejects = unserved.length > 0 ? `\n    elements = { ${unserved.map(key).join(', ')} }` : '';
  const hook = (name: string, type: string, hookName: string, priority: string, body: string) =>
    `  chain ${name} {\n    type ${type} hook ${hookName} priority ${priority}; policy accept;\n${body}\n  }`;
  const reject = '    ip daddr . meta l4proto . th dport @no_endpoints reject';
  return [
    `table ip ${proxyTable}`,
    `delete table ip ${proxyTable}`,
    `table ip ${proxyTable} {`,
    `  set no_endpoints {\n    type ipv4_addr . inet_proto . inet_service${rejects}\n  }`,
    `  chain services {\n${dispatch}\n  }`,
    ...chains,
    hook('prerouting', 'nat', 'prerouting', '-100', '    jump services'),
    hook('output', 'nat', 'output', '-100', '    jump services'),
    hook(
      'postrouting',
      'nat',
      'postrouting',
      '100',
      `    meta mark & ${hairpinMark} == ${hairpinMark} masquerade`,
    ),
    hook('filter_forward', 'filter', 'forward', '0', reject),
    hook('filter_output', 'filter', 'output', '0', reject),
    '}',
    '',
  ].join('\n');
}
