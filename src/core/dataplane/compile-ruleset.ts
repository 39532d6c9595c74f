/**
 * Compiles security groups and router ports into the nftables ruleset of one VPC router.
 *
 * Packet path (forward hook, policy drop):
 *   1. `ct state established,related accept`: replies and related ICMP errors of tracked flows.
 *   2. Source/destination check: a port may only send from its own addresses
 *      (`iifname . saddr` sets), unless its ENI has SourceDestCheck=false.
 *   3. Egress gate: `iifname vmap` → the source ENI's chain → `jump` to each of its groups'
 *      egress chains; a match `goto sg_ingress`, so an egress accept can never skip ingress.
 *      No match: the ENI's drop counter. A port that is no ENI (outside) skips this gate.
 *   4. Ingress gate: `oifname vmap` → the destination ENI's chain → its groups' ingress chains;
 *      a match accepts. A destination that is no ENI (outside) is accepted.
 *
 * A group's rules with CIDR or prefix-list peers become elements of up to three interval sets
 * per family (tcp/udp ports, ICMP type/code, whole protocols), so a lookup costs the same
 * whatever the number of rules; rules that reference a group match the referenced group's member
 * set (the addresses of the ports carrying it), so membership changes touch set elements only.
 */
import type { Cidr, IpAddress } from '../net/ip-address.js';
import { hasPorts, isIcmp, protocolNumbers } from '../sg/protocol.js';
import type { Direction, PortMatch, SecurityGroupRule } from '../sg/rule.js';
import type { SecurityGroup } from '../sg/security-group.js';
import type { PrefixList } from '../sg/world.js';
import { disjointBoxes, type Box, type Interval } from './boxes.js';
import {
  boxElement,
  elementKey,
  type NftChain,
  type NftElement,
  type NftFieldType,
  type NftRuleset,
  type NftSet,
  type NftVerdictMap,
} from './nft-ruleset.js';

export interface RouterPort {
  /** The router-side interface name (≤ 15 characters). */
  readonly portName: string;
  /** `eni`: gated by the ENI's groups; `outside`: a link to hosts beyond the VPC, not gated. */
  readonly kind: 'eni' | 'outside';
  readonly networkInterfaceId?: string;
  readonly addresses: readonly IpAddress[];
  readonly groupIds: readonly string[];
  /** EC2 SourceDestCheck: when true (the default) the port sends only from its own addresses. */
  readonly sourceDestCheck: boolean;
}

export interface RouterInput {
  readonly table: string;
  readonly groups: readonly SecurityGroup[];
  readonly ports: readonly RouterPort[];
  readonly prefixLists?: readonly PrefixList[];
}

type Family = 4 | 6;
type SetKind = 'p' | 'i' | 'a';

const full = (bits: number): Interval => ({ lo: 0n, hi: (1n << BigInt(bits)) - 1n });
const exact = (value: number | bigint): Interval => ({ lo: BigInt(value), hi: BigInt(value) });
const allProtocols = full(8);
const allPorts = full(16);

export const chainNames = {
  forward: 'forward_gate',
  egress: 'sg_egress',
  ingress: 'sg_ingress',
} as const;

export const objectNames = {
  egressPorts: 'egress_ports',
  ingressPorts: 'ingress_ports',
  sourceOk: (family: Family) => `src_ok_${family}`,
  sourceAny: 'src_any',
  spoofCounter: 'spoofed',
  groupChain: (groupId: string, direction: Direction) =>
    `g_${groupId}_${direction === 'egress' ? 'o' : 'i'}`,
  groupSet: (groupId: string, direction: Direction, family: Family, kind: SetKind) =>
    `g_${groupId}_${direction === 'egress' ? 'o' : 'i'}_${family}${kind}`,
  memberSet: (groupId: string, family: Family) => `m_${groupId}_${family}`,
  portChain: (portName: string, direction: Direction) =>
    `e_${portName}_${direction === 'egress' ? 'o' : 'i'}`,
  dropCounter: (portName: string, direction: Direction) =>
    `d_${portName}_${direction === 'egress' ? 'o' : 'i'}`,
} as const;

const addressType = (family: Family): NftFieldType => (family === 4 ? 'ipv4_addr' : 'ipv6_addr');
const setTypes: Record<SetKind, (family: Family) => NftFieldType[]> = {
  p: (family) => ['inet_proto', 'inet_service', addressType(family)],
  i: (family) =>
    family === 4
      ? ['icmp_type', 'icmp_code', 'ipv4_addr']
      : ['icmpv6_type', 'icmpv6_code', 'ipv6_addr'],
  a: (family) => ['inet_proto', addressType(family)],
};

function cidrInterval(cidr: Cidr): Interval {
  const bits = cidr.family === 4 ? 32 : 128;
  const size = 1n << BigInt(bits - cidr.prefixLength);
  return { lo: cidr.network, hi: cidr.network + size - 1n };
}

function icmpIntervals(ports: PortMatch): [Interval, Interval] {
  if (ports.kind !== 'icmp') return [full(8), full(8)];
  return [
    ports.type === -1 ? full(8) : exact(ports.type),
    ports.code === -1 ? full(8) : exact(ports.code),
  ];
}

/** Which set a rule's traffic belongs to, and the traffic fields of its boxes. */
function trafficOf(rule: SecurityGroupRule, family: Family): { kind: SetKind; fields: Interval[] } {
  const { protocol, ports } = rule;
  if (protocol === 'all') return { kind: 'a', fields: [allProtocols] };
  if (hasPorts(protocol)) {
    const range =
      ports.kind === 'range' ? { lo: BigInt(ports.from), hi: BigInt(ports.to) } : allPorts;
    return { kind: 'p', fields: [exact(protocol), range] };
  }
  const icmpOfFamily = family === 4 ? protocolNumbers.icmp : protocolNumbers.icmpv6;
  if (isIcmp(protocol) && protocol === icmpOfFamily)
    return { kind: 'i', fields: icmpIntervals(ports) };
  // Other protocols (and ICMP of the other family, which carries no ICMP header here): all ports.
  return { kind: 'a', fields: [exact(protocol)] };
}

interface GroupCompilation {
  readonly sets: NftSet[];
  readonly chain: NftChain;
  readonly referencedGroups: Set<string>;
}

function peerCidrs(rule: SecurityGroupRule, prefixLists: ReadonlyMap<string, PrefixList>): Cidr[] {
  if (rule.peer.kind === 'cidr') return [rule.peer.cidr];
  if (rule.peer.kind === 'prefix-list')
    return [...(prefixLists.get(rule.peer.prefixListId)?.cidrs ?? [])];
  return [];
}

function makeSet(name: string, type: NftFieldType[], boxes: Box[]): NftSet {
  const elements = new Map<string, NftElement>();
  for (const box of disjointBoxes(boxes)) {
    const element = boxElement(box);
    elements.set(elementKey(element), element);
  }
  return { name, type, interval: true, elements };
}

function renderInterval(interval: Interval): string {
  return interval.lo === interval.hi ? `${interval.lo}` : `${interval.lo}-${interval.hi}`;
}

const peerSelector: Record<Direction, Record<Family, string>> = {
  egress: { 4: 'ip daddr', 6: 'ip6 daddr' },
  ingress: { 4: 'ip saddr', 6: 'ip6 saddr' },
};

const lookupOf: Record<SetKind, Record<Family, string>> = {
  p: { 4: 'meta l4proto . th dport', 6: 'meta l4proto . th dport' },
  i: { 4: 'icmp type . icmp code', 6: 'icmpv6 type . icmpv6 code' },
  a: { 4: 'meta l4proto', 6: 'meta l4proto' },
};

/** The rules of one group reference: traffic as an anonymous set, peer as the member set. */
function referenceRules(
  rules: readonly SecurityGroupRule[],
  memberSet: string,
  direction: Direction,
  family: Family,
  verdict: string,
): string[] {
  const byKind = new Map<SetKind, Box[]>();
  for (const rule of rules) {
    const { kind, fields } = trafficOf(rule, family);
    byKind.set(kind, [...(byKind.get(kind) ?? []), fields]);
  }
  const lines: string[] = [];
  for (const kind of ['p', 'i', 'a'] as const) {
    const boxes = byKind.get(kind);
    if (!boxes) continue;
    const elements = disjointBoxes(boxes).map((box) => box.map(renderInterval).join(' . '));
    lines.push(
      `${peerSelector[direction][family]} @${memberSet} ${lookupOf[kind][family]} { ${elements.join(', ')} } ${verdict}`,
    );
  }
  return lines;
}

function compileGroup(
  group: SecurityGroup,
  direction: Direction,
  prefixLists: ReadonlyMap<string, PrefixList>,
): GroupCompilation {
  const verdict = direction === 'egress' ? `goto ${chainNames.ingress}` : 'accept';
  const rules = group.rules.filter((rule) => rule.direction === direction);
  const sets: NftSet[] = [];
  const lines: string[] = [];
  const referencedGroups = new Set<string>();
  for (const family of [4, 6] as const) {
    const boxes: Record<SetKind, Box[]> = { p: [], i: [], a: [] };
    for (const rule of rules) {
      const cidrs = peerCidrs(rule, prefixLists).filter((cidr) => cidr.family === family);
      if (cidrs.length === 0) continue;
      const { kind, fields } = trafficOf(rule, family);
      for (const cidr of cidrs) boxes[kind].push([...fields, cidrInterval(cidr)]);
    }
    for (const kind of ['p', 'i', 'a'] as const) {
      if (boxes[kind].length === 0) continue;
      const name = objectNames.groupSet(group.groupId, direction, family, kind);
      sets.push(makeSet(name, setTypes[kind](family), boxes[kind]));
      lines.push(
        `${lookupOf[kind][family]} . ${peerSelector[direction][family]} @${name} ${verdict}`,
      );
    }
    const byReference = new Map<string, SecurityGroupRule[]>();
    for (const rule of rules) {
      if (rule.peer.kind !== 'group') continue;
      byReference.set(rule.peer.groupId, [...(byReference.get(rule.peer.groupId) ?? []), rule]);
    }
    for (const [referenced, referencing] of [...byReference].sort(([a], [b]) =>
      a.localeCompare(b),
    )) {
      referencedGroups.add(referenced);
      lines.push(
        ...referenceRules(
          referencing,
          objectNames.memberSet(referenced, family),
          direction,
          family,
          verdict,
        ),
      );
    }
  }
  return {
    sets,
    chain: { name: objectNames.groupChain(group.groupId, direction), rules: lines },
    referencedGroups,
  };
}

function addressBox(address: IpAddress): Box {
  return [exact(address.value)];
}

function compileMemberSets(input: RouterInput, referenced: ReadonlySet<string>): NftSet[] {
  const sets: NftSet[] = [];
  for (const groupId of [...referenced].sort()) {
    for (const family of [4, 6] as const) {
      const boxes = input.ports
        .filter((port) => port.kind === 'eni' && port.groupIds.includes(groupId))
        .flatMap((port) =>
          port.addresses.filter((address) => address.family === family).map(addressBox),
        );
      sets.push(makeSet(objectNames.memberSet(groupId, family), [addressType(family)], boxes));
    }
  }
  return sets;
}

function compileSourceChecks(input: RouterInput): NftSet[] {
  const sets: NftSet[] = [];
  for (const family of [4, 6] as const) {
    const elements = new Map<string, NftElement>();
    for (const port of input.ports) {
      if (port.kind !== 'eni' || !port.sourceDestCheck) continue;
      for (const address of port.addresses.filter((a) => a.family === family)) {
        const element: NftElement = [
          { kind: 'name', value: port.portName },
          { kind: 'interval', lo: address.value, hi: address.value },
        ];
        elements.set(elementKey(element), element);
      }
    }
    sets.push({
      name: objectNames.sourceOk(family),
      type: ['ifname', addressType(family)],
      interval: false,
      elements,
    });
  }
  const anyElements = new Map<string, NftElement>();
  for (const port of input.ports) {
    if (port.kind === 'outside' || !port.sourceDestCheck) {
      const element: NftElement = [{ kind: 'name', value: port.portName }];
      anyElements.set(elementKey(element), element);
    }
  }
  sets.push({
    name: objectNames.sourceAny,
    type: ['ifname'],
    interval: false,
    elements: anyElements,
  });
  return sets;
}

function fixedChains(): NftChain[] {
  return [
    {
      name: chainNames.forward,
      base: { hook: 'forward', priority: 'filter', policy: 'drop' },
      rules: [
        'ct state established,related accept',
        `iifname . ip saddr @${objectNames.sourceOk(4)} goto ${chainNames.egress}`,
        `iifname . ip6 saddr @${objectNames.sourceOk(6)} goto ${chainNames.egress}`,
        `iifname @${objectNames.sourceAny} goto ${chainNames.egress}`,
        `counter name "${objectNames.spoofCounter}" drop`,
      ],
    },
    {
      name: chainNames.egress,
      rules: [`iifname vmap @${objectNames.egressPorts}`, `goto ${chainNames.ingress}`],
    },
    { name: chainNames.ingress, rules: [`oifname vmap @${objectNames.ingressPorts}`, 'accept'] },
  ];
}

/** The whole desired ruleset of one router. Pure and deterministic. */
export function compileRouterRuleset(input: RouterInput): NftRuleset {
  const prefixLists = new Map((input.prefixLists ?? []).map((list) => [list.prefixListId, list]));
  const knownGroups = new Map(input.groups.map((group) => [group.groupId, group]));
  const sets = new Map<string, NftSet>();
  const chains = new Map<string, NftChain>();
  const maps = new Map<string, NftVerdictMap>();
  const counters = new Set<string>([objectNames.spoofCounter]);
  const referenced = new Set<string>();
  for (const chain of fixedChains()) chains.set(chain.name, chain);
  for (const group of [...input.groups].sort((a, b) => a.groupId.localeCompare(b.groupId))) {
    for (const direction of ['egress', 'ingress'] as const) {
      const compiled = compileGroup(group, direction, prefixLists);
      for (const set of compiled.sets) sets.set(set.name, set);
      chains.set(compiled.chain.name, compiled.chain);
      for (const groupId of compiled.referencedGroups) referenced.add(groupId);
    }
  }
  for (const set of [...compileMemberSets(input, referenced), ...compileSourceChecks(input)])
    sets.set(set.name, set);
  const egressPorts = new Map<string, string>();
  const ingressPorts = new Map<string, string>();
  for (const port of input.ports) {
    if (port.kind !== 'eni') continue;
    for (const direction of ['egress', 'ingress'] as const) {
      const chainName = objectNames.portChain(port.portName, direction);
      const counter = objectNames.dropCounter(port.portName, direction);
      const jumps = port.groupIds
        .filter((groupId) => knownGroups.has(groupId))
        .map((groupId) => `jump ${objectNames.groupChain(groupId, direction)}`);
      chains.set(chainName, {
        name: chainName,
        rules: [...jumps, `counter name "${counter}" drop`],
      });
      counters.add(counter);
      (direction === 'egress' ? egressPorts : ingressPorts).set(port.portName, chainName);
    }
  }
  maps.set(objectNames.egressPorts, { name: objectNames.egressPorts, elements: egressPorts });
  maps.set(objectNames.ingressPorts, { name: objectNames.ingressPorts, elements: ingressPorts });
  return { table: input.table, sets, maps, chains, counters };
}
