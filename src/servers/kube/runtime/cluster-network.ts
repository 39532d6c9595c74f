/**
 * The standalone cluster's network: a router namespace and one namespace per node, joined by a
 * veth each (node `eth0` 10.250.<n>.2/24, router 10.250.<n>.1/24), every node's pod range
 * (10.244.<n>.0/24) routed to it — a plain L3 network as kubenet or host-gw builds, with no
 * security groups (in the sandbox, nodes are EC2 instances of the cloud instead). Idempotent:
 * a restart finds what exists and adds only what is missing.
 */
import { addNamespace, ipBatch, linkNames, setSysctls } from '../../../adapters/netns/netns.js';
import { kernelName } from '../../../core/kernel-names.js';

export interface ClusterNode {
  readonly index: number;
  readonly namespace: string;
  readonly internalIp: string;
  readonly podCidr: string;
}

export const maxStandaloneNodes = 200;

/** Where pods reach the API server: an address of the router (a forwarder listens there). */
export const apiServerAddress = '10.250.0.1';

export function routerNamespaceOf(prefix: string): string {
  return kernelName(prefix, 'cr');
}

export function clusterNodeOf(prefix: string, index: number): ClusterNode {
  return {
    index,
    namespace: kernelName(prefix, `n${index}`),
    internalIp: `10.250.${index}.2`,
    podCidr: `10.244.${index}.0/24`,
  };
}

const forwarding = {
  'net.ipv4.ip_forward': 1,
  'net.ipv4.conf.all.rp_filter': 0,
  'net.ipv4.conf.default.rp_filter': 0,
};

/** Creates (or completes) the router and the nodes' namespaces, links and routes. */
export async function ensureClusterNetwork(prefix: string, count: number): Promise<ClusterNode[]> {
  const router = routerNamespaceOf(prefix);
  await addNamespace(router);
  await setSysctls(router, forwarding);
  await ipBatch(router, [`addr replace ${apiServerAddress}/32 dev lo`]);
  const routerLinks = new Set(await linkNames(router));
  const nodes: ClusterNode[] = [];
  for (let index = 1; index <= count; index += 1) {
    const node = clusterNodeOf(prefix, index);
    nodes.push(node);
    await addNamespace(node.namespace);
    await setSysctls(node.namespace, forwarding);
    const port = kernelName(prefix, `c${index}`);
    if (!routerLinks.has(port)) {
      await ipBatch(router, [`link add ${port} type veth peer name eth0 netns ${node.namespace}`]);
    }
    await ipBatch(router, [
      `addr replace 10.250.${index}.1/24 dev ${port}`,
      `link set ${port} up`,
      `route replace ${node.podCidr} via ${node.internalIp} dev ${port}`,
    ]);
    await ipBatch(node.namespace, [
      `addr replace ${node.internalIp}/24 dev eth0`,
      'link set eth0 up',
      `route replace default via 10.250.${index}.1 dev eth0`,
    ]);
  }
  return nodes;
}
