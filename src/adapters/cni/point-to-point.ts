/**
 * The VPC CNI's point-to-point pod wiring, shared by our plugins: a veth pair from the node's
 * namespace (the caller's) into the pod's, the pod's address as /32 with a default route via
 * 169.254.1.1 on its interface and a permanent neighbour entry for that gateway (the node end's
 * MAC), the node holding a /32 route to the pod and forwarding. Idempotent both ways.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { runCommand } from '../exec/run-command.js';
import { cniEnvironment, CniError } from './cni-plugin-protocol.js';

export interface PodLink {
  readonly containerId: string;
  /** The pod's namespace name (under /run/netns). */
  readonly netns: string;
  /** The interface inside the pod (`eth0`). */
  readonly ifname: string;
}

/** The node end of a pod's veth, from the container id (fits IFNAMSIZ). */
export function hostInterfaceName(containerId: string): string {
  return `veth${createHash('sha1').update(containerId).digest('hex').slice(0, 11)}`;
}

/** The node end's MAC: locally administered, fixed per container (stable across ADD retries). */
export function hostMac(containerId: string): string {
  const bytes = createHash('sha1').update(`mac:${containerId}`).digest().subarray(0, 5);
  return ['02', ...[...bytes].map((byte) => byte.toString(16).padStart(2, '0'))].join(':');
}

/** The namespace name of a `CNI_NETNS` path (error 4 for anything outside /run/netns). */
export function netnsName(path: string): string {
  if (!path.startsWith('/run/netns/') && !path.startsWith('/var/run/netns/'))
    throw new CniError(4, `CNI_NETNS ${path} is not under /run/netns`);
  return basename(path);
}

/** The pod link the runtime asks for, from `CNI_CONTAINERID`, `CNI_NETNS` and `CNI_IFNAME`. */
export function podLinkFromEnvironment(): PodLink {
  return {
    containerId: cniEnvironment('CNI_CONTAINERID'),
    netns: netnsName(cniEnvironment('CNI_NETNS')),
    ifname: cniEnvironment('CNI_IFNAME'),
  };
}

export async function linkExists(name: string, namespace?: string): Promise<boolean> {
  const argv = namespace
    ? ['ip', '-n', namespace, 'link', 'show', name]
    : ['ip', 'link', 'show', name];
  const { exitCode } = await runCommand(argv, { okExitCodes: [0, 1, 255] });
  return exitCode === 0;
}

/** An interface's MAC, or undefined when it does not exist. */
export async function interfaceMac(name: string, namespace?: string): Promise<string | undefined> {
  const argv = namespace
    ? ['ip', '-n', namespace, '-j', 'link', 'show', name]
    : ['ip', '-j', 'link', 'show', name];
  const { stdout, exitCode } = await runCommand(argv, { okExitCodes: [0, 1, 255] });
  if (exitCode !== 0) return undefined;
  return (JSON.parse(stdout) as { address?: string }[])[0]?.address;
}

/**
 * The veth pair (node end `host` with `mac`, pod end `link.ifname` in the pod's namespace) and
 * the pod side every VPC CNI pod has: its address as /32, a link route to 169.254.1.1 and the
 * default route through it, a permanent neighbour entry for it at the node end's MAC. Turns
 * forwarding on in the node's namespace. Returns the pod end's MAC.
 */
export async function wirePodSide(
  link: PodLink,
  host: string,
  mac: string,
  address: string,
): Promise<string> {
  const { netns, ifname } = link;
  if (!(await linkExists(host))) {
    await runCommand([
      'ip',
      'link',
      'add',
      host,
      'address',
      mac,
      'type',
      'veth',
      'peer',
      'name',
      ifname,
      'netns',
      netns,
    ]);
  }
  // As the reference ptp plugin does: the node routes between its pods.
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  await runCommand(['ip', '-n', netns, '-batch', '-'], {
    input: [
      `addr replace ${address}/32 dev ${ifname}`,
      `link set ${ifname} up`,
      `route replace 169.254.1.1 dev ${ifname} scope link`,
      `route replace default via 169.254.1.1 dev ${ifname}`,
      `neigh replace 169.254.1.1 dev ${ifname} lladdr ${mac} nud permanent`,
      '',
    ].join('\n'),
  });
  return (await interfaceMac(ifname, netns)) ?? '';
}

/** Wires the pod with `address`; returns the CNI result (spec 1.0.0 shape). */
export async function wirePointToPoint(
  link: PodLink,
  address: string,
  cniVersion: string,
): Promise<unknown> {
  const { containerId, netns, ifname } = link;
  const host = hostInterfaceName(containerId);
  const mac = hostMac(containerId);
  const podMac = await wirePodSide(link, host, mac, address);
  await runCommand(['ip', '-batch', '-'], {
    input: `link set ${host} up\nroute replace ${address}/32 dev ${host} scope link\n`,
  });
  return {
    cniVersion,
    interfaces: [
      { name: host, mac },
      { name: ifname, mac: podMac, sandbox: `/run/netns/${netns}` },
    ],
    ips: [{ address: `${address}/32`, gateway: '169.254.1.1', interface: 1 }],
    routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }],
    dns: {},
  };
}

/**
 * ADD's wiring step: on failure `undo` runs (the plugin's own DEL, so its IPAM lets the address
 * go too) and the failure becomes CNI error 999 with the cause as details.
 */
export async function wireOrUndo(
  link: PodLink,
  address: string,
  cniVersion: string,
  undo: () => Promise<void>,
): Promise<unknown> {
  try {
    return await wirePointToPoint(link, address, cniVersion);
  } catch (error) {
    await undo().catch(() => undefined);
    throw new CniError(
      999,
      'failed to set up the pod network',
      error instanceof Error ? error.message : String(error),
    );
  }
}

/** Removes the node end (the pod end goes with it) and the route to `address`. */
export async function unwirePointToPoint(
  containerId: string,
  address: string | undefined,
): Promise<void> {
  const host = hostInterfaceName(containerId);
  if (await linkExists(host))
    await runCommand(['ip', 'link', 'del', host], { okExitCodes: [0, 1, 2] });
  if (address)
    await runCommand(['ip', 'route', 'del', `${address}/32`], { okExitCodes: [0, 1, 2] });
}

/** CHECK: both ends present. */
export async function checkPointToPoint(link: PodLink): Promise<void> {
  const host = hostInterfaceName(link.containerId);
  if (!(await linkExists(host))) throw new CniError(999, `host interface ${host} is missing`);
  if (!(await linkExists(link.ifname, link.netns)))
    throw new CniError(999, `interface ${link.ifname} is missing in ${link.netns}`);
}
