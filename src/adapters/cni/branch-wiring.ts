/**
 * The VPC CNI's branch-ENI pod wiring (`SetupBranchENIPodNetwork`, cni-sg.md A4), in the node's
 * namespace (the caller's). The pod side is the point-to-point one of every pod; the node side
 * sends the pod's packets through `vlan.eth.<vlanId>`, its branch ENI's port (made by the cloud:
 * this kernel has no 802.1Q, so the port is a veth of its own rather than a VLAN on the trunk —
 * docs/decisions/0009), using route table `vlanId + 100`:
 *
 * - strict: `iif vlan.eth.V` and `iif <host veth>` → table (priority 10); the pod's route lives
 *   only in that table, so all its traffic — even to its own node — crosses the VPC;
 * - standard: `to <pod> lookup main` (512) and `from <pod> lookup <table>` (1536); same-node
 *   traffic stays on the node.
 *
 * Teardown removes both modes' rules (a mode switch leaks nothing) and also what a crashed
 * earlier pod left for the same VLAN.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand } from '../exec/run-command.js';
import { CniError } from './cni-plugin-protocol.js';
import { hostMac, interfaceMac, linkExists, wirePodSide, type PodLink } from './point-to-point.js';

export type EnforcingMode = 'strict' | 'standard';

export const vlanRulePriority = 10;
export const strictLocalRulePriority = 20;
export const toPodRulePriority = 512;
export const fromPodRulePriority = 1536;

/** What DEL needs, kept on disk by the plugin from before the first change. */
export interface BranchPodState {
  readonly kind: 'branch';
  readonly containerId: string;
  readonly hostVeth: string;
  readonly vlanId: number;
  readonly address: string;
  readonly mode: EnforcingMode;
}

export interface BranchPort {
  readonly vlanId: number;
  readonly mac: string;
  readonly address: string;
  readonly gateway: string;
}

export function vlanInterfaceName(vlanId: number): string {
  return `vlan.eth.${vlanId}`;
}

export function vlanRouteTable(vlanId: number): number {
  return vlanId + 100;
}

/** `vlan` (strict) or `eni` (standard) + 11 hex of the container id: fits IFNAMSIZ. */
export function branchHostVethName(containerId: string, mode: EnforcingMode): string {
  const hash = createHash('sha1').update(containerId).digest('hex').slice(0, 11);
  return `${mode === 'strict' ? 'vlan' : 'eni'}${hash}`;
}

/** Waits (bounded) for the cloud to plug the branch's port in, and checks it is that ENI's. */
async function waitForPort(port: BranchPort, timeoutMs: number): Promise<void> {
  const name = vlanInterfaceName(port.vlanId);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mac = await interfaceMac(name);
    if (mac !== undefined) {
      if (mac.toLowerCase() !== port.mac) {
        throw new CniError(
          999,
          `${name} has MAC ${mac}, not the branch ENI's ${port.mac}: the VLAN belongs to another ENI`,
        );
      }
      return;
    }
    if (Date.now() >= deadline) {
      throw new CniError(11, `${name} (the branch ENI's port) is not on this node yet`);
    }
    await sleep(100);
  }
}

interface RuleRow {
  readonly priority?: number;
  readonly src?: string;
  readonly dst?: string;
  readonly iif?: string;
  readonly table?: string;
}

/** `rule del` lines for every rule this VLAN's pods may have made (both modes). */
async function staleRuleDeletions(vlanId: number, address: string): Promise<string[]> {
  const { stdout } = await runCommand(['ip', '-j', '-4', 'rule', 'show']);
  const table = String(vlanRouteTable(vlanId));
  return (JSON.parse(stdout || '[]') as RuleRow[])
    .filter(
      (rule) =>
        (rule.priority === vlanRulePriority && rule.table === table) ||
        (rule.priority === fromPodRulePriority && rule.table === table) ||
        (rule.priority === toPodRulePriority && rule.dst === address),
    )
    .map((rule) =>
      [
        'rule del',
        `pref ${String(rule.priority)}`,
        rule.iif ? `iif ${rule.iif}` : '',
        rule.src && rule.src !== 'all' ? `from ${rule.src}` : '',
        rule.dst ? `to ${rule.dst}` : '',
        `table ${rule.table ?? ''}`,
      ]
        .filter(Boolean)
        .join(' '),
    );
}

async function ipBatch(lines: readonly string[], namespace?: string): Promise<void> {
  if (lines.length === 0) return;
  const argv = namespace ? ['ip', '-n', namespace, '-batch', '-'] : ['ip', '-batch', '-'];
  await runCommand(argv, { input: `${lines.join('\n')}\n` });
}

async function flushTable(vlanId: number): Promise<void> {
  await runCommand(['ip', 'route', 'flush', 'table', String(vlanRouteTable(vlanId))], {
    okExitCodes: [0, 1, 2],
  });
}

function nodeLines(state: BranchPodState, port: BranchPort): string[] {
  const vlan = vlanInterfaceName(port.vlanId);
  const table = vlanRouteTable(port.vlanId);
  const common = [
    `link set ${vlan} up`,
    `link set ${state.hostVeth} up`,
    `route replace ${port.gateway} dev ${vlan} scope link table ${String(table)}`,
    `route replace default via ${port.gateway} dev ${vlan} table ${String(table)}`,
  ];
  if (state.mode === 'strict') {
    return [
      ...common,
      `route replace ${port.address} dev ${state.hostVeth} scope link table ${String(table)}`,
      `rule add iif ${vlan} pref ${String(vlanRulePriority)} table ${String(table)}`,
      `rule add iif ${state.hostVeth} pref ${String(vlanRulePriority)} table ${String(table)}`,
    ];
  }
  return [
    ...common,
    `route replace ${port.address} dev ${state.hostVeth} scope link`,
    `rule add to ${port.address} pref ${String(toPodRulePriority)} table main`,
    `rule add from ${port.address} pref ${String(fromPodRulePriority)} table ${String(table)}`,
  ];
}

/**
 * Wires the pod through its branch ENI; the CNI result (spec 1.0.0), with upstream's `dummy`
 * interface whose `mac` holds the VLAN id (what marks a branch pod in a prevResult).
 */
export async function wireBranchPod(
  link: PodLink,
  state: BranchPodState,
  port: BranchPort,
  cniVersion: string,
  portWaitMs = 10_000,
): Promise<unknown> {
  await waitForPort(port, portWaitMs);
  const mac = hostMac(state.containerId);
  const podMac = await wirePodSide(link, state.hostVeth, mac, port.address);
  await ipBatch(await staleRuleDeletions(port.vlanId, port.address));
  await flushTable(port.vlanId);
  await ipBatch(nodeLines(state, port));
  const dummy = `dummy${createHash('sha1').update(state.containerId).digest('hex').slice(0, 11)}`;
  return {
    cniVersion,
    interfaces: [
      { name: state.hostVeth, mac },
      { name: link.ifname, mac: podMac, sandbox: `/run/netns/${link.netns}` },
      { name: dummy, mac: String(port.vlanId) },
    ],
    ips: [{ address: `${port.address}/32`, gateway: '169.254.1.1', interface: 1 }],
    routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }],
    dns: {},
  };
}

/**
 * A branch pod's state from the ADD result a runtime hands back as `prevResult` (upstream's DEL
 * without ipamd): the `dummy…` interface's `mac` holds the VLAN id, the first interface is the
 * host veth, `ips[0]` the pod's address. Undefined for a regular pod's result.
 */
export function branchStateFromPrevResult(
  containerId: string,
  prevResult: unknown,
): BranchPodState | undefined {
  const result = (prevResult ?? {}) as {
    interfaces?: { name?: string; mac?: string }[];
    ips?: { address?: string }[];
  };
  const interfaces = result.interfaces ?? [];
  const vlanId = Number(interfaces.find((item) => item.name?.startsWith('dummy'))?.mac);
  const hostVeth = interfaces[0]?.name ?? '';
  const address = result.ips?.[0]?.address?.split('/')[0] ?? '';
  if (!Number.isInteger(vlanId) || vlanId <= 0 || !hostVeth || !address) return undefined;
  return {
    kind: 'branch',
    containerId,
    hostVeth,
    vlanId,
    address,
    mode: hostVeth.startsWith('vlan') ? 'strict' : 'standard',
  };
}

/** Removes what `wireBranchPod` made, in either mode; nothing left is fine. */
export async function unwireBranchPod(state: BranchPodState): Promise<void> {
  if (await linkExists(state.hostVeth))
    await runCommand(['ip', 'link', 'del', state.hostVeth], { okExitCodes: [0, 1, 2] });
  await ipBatch(await staleRuleDeletions(state.vlanId, state.address));
  await flushTable(state.vlanId);
  await runCommand(['ip', 'route', 'del', `${state.address}/32`, 'table', 'main'], {
    okExitCodes: [0, 1, 2],
  });
}

/** CHECK: the host end, the pod end and the branch's port are there. */
export async function checkBranchPod(link: PodLink, state: BranchPodState): Promise<void> {
  for (const [name, namespace] of [
    [state.hostVeth, undefined],
    [link.ifname, link.netns],
    [vlanInterfaceName(state.vlanId), undefined],
  ] as const) {
    if (!(await linkExists(name, namespace)))
      throw new CniError(999, `interface ${name} is missing${namespace ? ` in ${namespace}` : ''}`);
  }
}

/**
 * The node-wide part (ipamd's `SetupHostNetwork` and the init container): in strict mode with pod
 * ENIs, local delivery moves from priority 0 to 20 so the VLAN rules come first, and TCP early
 * demux is off so kubelet probes' replies are routed through the VPC rather than short-cut.
 * Otherwise the kernel's defaults are put back.
 */
export async function setUpNodeForBranchPods(strict: boolean): Promise<void> {
  const { stdout } = await runCommand(['ip', '-j', '-4', 'rule', 'show', 'table', 'local']);
  const priorities = new Set(
    (JSON.parse(stdout || '[]') as RuleRow[]).map((rule) => rule.priority),
  );
  const lines: string[] = [];
  const [keep, drop] = strict ? [strictLocalRulePriority, 0] : [0, strictLocalRulePriority];
  if (!priorities.has(keep)) lines.push(`rule add pref ${String(keep)} table local`);
  if (priorities.has(drop)) lines.push(`rule del pref ${String(drop)} table local`);
  await ipBatch(lines);
  writeFileSync('/proc/sys/net/ipv4/tcp_early_demux', strict ? '0' : '1');
}
