/**
 * A pod's sandbox: its network namespace (named from the pod's uid with the home's prefix), the
 * files `ip netns exec` lays over /etc inside it (resolv.conf as the kubelet writes it for the
 * pod's dnsPolicy, an /etc/hosts naming the pod), and its interface through the CNI plugins.
 */
import { mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addNamespace } from '../../../../adapters/netns/netns.js';
import { removeNamespace } from '../../../../adapters/netns/sweep.js';
import { kernelName, nameTag } from '../../../../core/kernel-names.js';
import { cniAdd, cniDel, resultAddress, type CniNode } from '../cni/cni-runner.js';

type Json = Record<string, unknown>;

export function podNamespaceOf(prefix: string, uid: string): string {
  return kernelName(prefix, `p${nameTag(uid, 7)}`);
}

export interface ClusterDns {
  readonly nameserver: string;
  readonly domain: string;
}

/** resolv.conf for a pod: ClusterFirst (when cluster DNS exists), Default, None. */
export function podResolvConf(
  podSpec: Json,
  namespace: string,
  nodeResolvConf: string,
  dns?: ClusterDns,
): string {
  const policy = typeof podSpec.dnsPolicy === 'string' ? podSpec.dnsPolicy : 'ClusterFirst';
  const config = (podSpec.dnsConfig ?? {}) as Json;
  const extraServers = (config.nameservers ?? []) as string[];
  const extraSearches = (config.searches ?? []) as string[];
  const options = ((config.options ?? []) as { name: string; value?: string }[]).map((option) =>
    option.value === undefined ? option.name : `${option.name}:${option.value}`,
  );
  // ClusterFirst falls back to the node's resolver for hostNetwork pods; ClusterFirstWithHostNet does not.
  const clusterDns =
    (policy === 'ClusterFirst' && podSpec.hostNetwork !== true) ||
    policy === 'ClusterFirstWithHostNet'
      ? dns
      : undefined;
  let servers: string[];
  let searches: string[];
  let baseOptions: string[];
  if (policy === 'None') {
    servers = extraServers;
    searches = extraSearches;
    baseOptions = [];
  } else if (clusterDns) {
    servers = [clusterDns.nameserver, ...extraServers];
    searches = [
      `${namespace}.svc.${clusterDns.domain}`,
      `svc.${clusterDns.domain}`,
      clusterDns.domain,
      ...extraSearches,
    ];
    baseOptions = ['ndots:5'];
  } else {
    const lines = nodeResolvConf.split('\n');
    servers = [
      ...lines
        .filter((line) => line.startsWith('nameserver'))
        .map((line) => line.split(/\s+/)[1] ?? ''),
      ...extraServers,
    ];
    searches = [
      ...lines
        .filter((line) => line.startsWith('search'))
        .flatMap((line) => line.split(/\s+/).slice(1)),
      ...extraSearches,
    ];
    baseOptions = [];
  }
  return [
    ...(searches.length > 0 ? [`search ${searches.join(' ')}`] : []),
    ...servers.filter(Boolean).map((server) => `nameserver ${server}`),
    ...([...baseOptions, ...options].length > 0
      ? [`options ${[...baseOptions, ...options].join(' ')}`]
      : []),
    '',
  ].join('\n');
}

export interface PodName {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export interface SandboxNode {
  readonly cni: CniNode;
  readonly dns?: ClusterDns;
}

export class PodSandbox {
  /** With `hostAddress`, the pod shares the node's namespace (hostNetwork): no CNI, no own files. */
  constructor(
    readonly netns: string,
    readonly containerId: string,
    readonly hostAddress?: string,
  ) {}

  get netnsPath(): string {
    return `/run/netns/${this.netns}`;
  }

  /** CNI_ARGS as containerd passes them (K8S_POD_UID since containerd 1.6). */
  #request(pod: PodName) {
    return {
      containerId: this.containerId,
      netns: this.netnsPath,
      ifname: 'eth0',
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${this.containerId}${pod.uid ? `;K8S_POD_UID=${pod.uid}` : ''}`,
    };
  }

  /** Creates the namespace and its /etc files, then the network; returns the pod's address. */
  async create(node: SandboxNode, pod: PodName & { spec: Json }): Promise<string> {
    if (this.hostAddress !== undefined) return this.hostAddress;
    await addNamespace(this.netns);
    const etc = `/etc/netns/${this.netns}`;
    mkdirSync(etc, { recursive: true });
    const nodeResolv = join('/etc/netns', node.cni.namespace, 'resolv.conf');
    const nodeResolvConf = existsSync(nodeResolv) ? readFileSync(nodeResolv, 'utf8') : '';
    writeFileSync(
      join(etc, 'resolv.conf'),
      podResolvConf(pod.spec, pod.namespace, nodeResolvConf, node.dns),
    );
    const result = await cniAdd(node.cni, this.#request(pod));
    const address = resultAddress(result);
    if (!address) throw new Error('the CNI plugin returned no IPv4 address');
    const hostname = typeof pod.spec.hostname === 'string' ? pod.spec.hostname : pod.name;
    writeFileSync(
      join(etc, 'hosts'),
      `# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${address}\t${hostname}\n`,
    );
    return address;
  }

  /** CNI DEL (idempotent), then the namespace and its files. */
  async destroy(node: SandboxNode, pod: PodName): Promise<void> {
    if (this.hostAddress !== undefined) return;
    try {
      await cniDel(node.cni, this.#request(pod));
    } finally {
      await removeNamespace(this.netns);
    }
  }
}
