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
 * Rules live in a few large interval-concatenation sets shared by every group, keyed by a
 * stable per-group index that the group's chain puts in `meta mark` before its lookups (the mark
 * never leaves the router: it is scrubbed when a packet crosses into another namespace):
 *   - CIDR and prefix-list peers: `cidr_<o|i>_<4|6><p|i|a>` = index . traffic . address, where
 *     traffic is protocol . port (p), ICMP type . code (i), or protocol alone (a);
 *   - group references: `members_<4|6>` = address . group index (who carries which group), and
 *     `ref_<o|i>_<4|6><p|i|a>` = (group, referenced group) index . traffic.
 * A lookup costs the same whatever the number of rules; a rule change or a membership change
 * touches set elements only; and the kernel holds ~20 sets instead of one per group (nft's cost
 * grows with the number of set objects: 5,000 sets take seconds to load, these take 0.5 s).
 */
import type { Cidr, IpAddress } from '../net/ip-address.js';
import { hasPorts, isIcmp, protocolNumbers } from '../sg/protocol.js';
import type { Direction, PortMatch, SecurityGroupRule } from '../sg/rule.js';
import type { SecurityGroup } from '../sg/security-group.js';
import type { PrefixList } from '../sg/world.js';
import { assignIndices } from '../hash.js';
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

const directionTag = (direction: Direction) => (direction === 'egress' ? 'o' : 'i');

export const objectNames = {
  egressPorts: 'egress_ports',
  ingressPorts: 'ingress_ports',
  sourceOk: (family: Family) => `src_ok_${family}`,
  sourceAny: 'src_any',
  spoofCounter: 'spoofed',
  groupChain: (groupId: string, direction: Direction) => `g_${groupId}_${directionTag(direction)}`,
  cidrSet: (direction: Direction, family: Family, kind: SetKind) => `cidr_${directionTag(direction)}_${family}${kind}`,
  referenceSet: (direction: Direction, family: Family, kind: SetKind) => `ref_${directionTag(direction)}_${family}${kind}`,
  memberSet: (family: Family) => `members_${family}`,
  portChain: (portName: string, direction: Direction) => `e_${portName}_${directionTag(direction)}`,
  dropCounter: (portName: string, direction: Direction) => `d_${portName}_${directionTag(direction)}`,
} as const;

const addressType = (family: Family): NftFieldType => (family === 4 ? 'ipv4_addr' : 'ipv6_addr');
const trafficTypes: Record<SetKind, (family: Family) => NftFieldType[]> = {
  p: () => ['inet_proto', 'inet_service'],
  i: (family) => (family === 4 ? ['icmp_type', 'icmp_code'] : ['icmpv6_type', 'icmpv6_code']),
  a: () => ['inet_proto'],
};

function cidrInterval(cidr: Cidr): Interval {
  const bits = cidr.family === 4 ? 32 : 128;
  const size = 1n << BigInt(bits - cidr.prefixLength);
  return { lo: cidr.network, hi: cidr.network + size - 1n };
}

function icmpIntervals(ports: PortMatch): [Interval, Interval] {
  if (ports.kind !== 'icmp') return [full(8), full(8)];
  return [ports.type === -1 ? full(8) : exact(ports.type), ports.code === -1 ? full(8) : exact(ports.code)];
}

/** Which set a rule's traffic belongs to, and the traffic fields of its boxes. */
function trafficOf(rule: SecurityGroupRule, family: Family): { kind: SetKind; fields: Interval[] } {
  const { protocol, ports } = rule;
  if (protocol === 'all') return { kind: 'a', fields: [allProtocols] };
  if (hasPorts(protocol)) {
    const range = ports.kind === 'range' ? { lo: BigInt(ports.from), hi: BigInt(ports.to) } : allPorts;
    return { kind: 'p', fields: [exact(protocol), range] };
  }
  const icmpOfFamily = family === 4 ? protocolNumbers.icmp : protocolNumbers.icmpv6;
  if (isIcmp(protocol) && protocol === icmpOfFamily) return { kind: 'i', fields: icmpIntervals(ports) };
  // Other protocols (and ICMP of the other family, which carries no ICMP header here): all ports.
  return { kind: 'a', fields: [exact(protocol)] };
}

function peerCidrs(rule: SecurityGroupRule, prefixLists: ReadonlyMap<string, PrefixList>): Cidr[] {
  if (rule.peer.kind === 'cidr') return [rule.peer.cidr];
  if (rule.peer.kind === 'prefix-list') return [...(prefixLists.get(rule.peer.prefixListId)?.cidrs ?? [])];
  return [];
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

const families = [4, 6] as const;
const kinds = ['p', 'i', 'a'] as const;
const directions = ['egress', 'ingress'] as const;
const setKey = (direction: Direction, family: Family, kind: SetKind) => `${direction}/${family}/${kind}`;

/** Boxes collected per shared set while groups compile; elements are made disjoint per key. */
class SetBuilder {
  readonly #boxes = new Map<string, Box[]>();

  add(setName: string, index: number, boxes: readonly Box[]): void {
    const mark = exact(index);
    const list = this.#boxes.get(setName) ?? [];
    // Boxes of different indices never overlap; within one index they are made disjoint.
    for (const box of disjointBoxes(boxes)) list.push([mark, ...box]);
    this.#boxes.set(setName, list);
  }

  build(name: string, type: NftFieldType[]): NftSet {
    const elements = new Map<string, NftElement>();
    for (const box of this.#boxes.get(name) ?? []) {
      const element = boxElement(box);
      elements.set(elementKey(element), element);
    }
    return { name, type, interval: true, elements };
  }
}

interface GroupContext {
  readonly prefixLists: ReadonlyMap<string, PrefixList>;
  readonly groupIndex: ReadonlyMap<string, number>;
  readonly pairIndex: ReadonlyMap<string, number>;
  readonly sets: SetBuilder;
}

const pairKey = (groupId: string, referenced: string, direction: Direction) => `${groupId}>${referenced}/${directionTag(direction)}`;

function indexOf(indices: ReadonlyMap<string, number>, key: string): number {
  const index = indices.get(key);
  if (index === undefined) throw new RangeError(`no index for ${key}`);
  return index;
}

/** One group's chain for one direction; its rules' elements go to the shared sets. */
function compileGroup(group: SecurityGroup, direction: Direction, context: GroupContext): NftChain {
  const verdict = direction === 'egress' ? `goto ${chainNames.ingress}` : 'accept';
  const rules = group.rules.filter((rule) => rule.direction === direction);
  const groupIndex = indexOf(context.groupIndex, group.groupId);
  const lines: string[] = [];
  const referenceLines: string[] = [];
  for (const family of families) {
    const boxes: Record<SetKind, Box[]> = { p: [], i: [], a: [] };
    const byReference = new Map<string, Record<SetKind, Box[]>>();
    for (const rule of rules) {
      const { kind, fields } = trafficOf(rule, family);
      if (rule.peer.kind === 'group') {
        const entry = byReference.get(rule.peer.groupId) ?? { p: [], i: [], a: [] };
        entry[kind].push(fields);
        byReference.set(rule.peer.groupId, entry);
        continue;
      }
      for (const cidr of peerCidrs(rule, context.prefixLists).filter((c) => c.family === family)) {
        boxes[kind].push([...fields, cidrInterval(cidr)]);
      }
    }
    for (const kind of kinds) {
      if (boxes[kind].length === 0) continue;
      const name = objectNames.cidrSet(direction, family, kind);
      context.sets.add(name, groupIndex, boxes[kind]);
      lines.push(`meta mark . ${lookupOf[kind][family]} . ${peerSelector[direction][family]} @${name} ${verdict}`);
    }
    for (const [referenced, traffic] of [...byReference].sort(([a], [b]) => a.localeCompare(b))) {
      const referencedIndex = indexOf(context.groupIndex, referenced);
      const pair = indexOf(context.pairIndex, pairKey(group.groupId, referenced, direction));
      for (const kind of kinds) {
        if (traffic[kind].length === 0) continue;
        const name = objectNames.referenceSet(direction, family, kind);
        context.sets.add(name, pair, traffic[kind]);
        referenceLines.push(
          `meta mark set ${referencedIndex} ${peerSelector[direction][family]} . meta mark @${objectNames.memberSet(family)} meta mark set ${pair} meta mark . ${lookupOf[kind][family]} @${name} ${verdict}`,
        );
      }
    }
  }
  const head = lines.length > 0 ? [`meta mark set ${groupIndex}`] : [];
  return { name: objectNames.groupChain(group.groupId, direction), rules: [...head, ...lines, ...referenceLines] };
}

function compileMemberSets(input: RouterInput, groupIndex: ReadonlyMap<string, number>): NftSet[] {
  return families.map((family) => {
    const elements = new Map<string, NftElement>();
    for (const port of input.ports) {
      if (port.kind !== 'eni') continue;
      for (const address of port.addresses.filter((a) => a.family === family)) {
        for (const groupId of port.groupIds) {
          const index = BigInt(indexOf(groupIndex, groupId));
          const element: NftElement = [
            { kind: 'interval', lo: address.value, hi: address.value },
            { kind: 'interval', lo: index, hi: index },
          ];
          elements.set(elementKey(element), element);
        }
      }
    }
    return { name: objectNames.memberSet(family), type: [addressType(family), 'mark'], interval: false, elements };
  });
}

function compileSourceChecks(input: RouterInput): NftSet[] {
  const sets: NftSet[] = [];
  for (const family of families) {
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
    sets.push({ name: objectNames.sourceOk(family), type: ['ifname', addressType(family)], interval: false, elements });
  }
  const anyElements = new Map<string, NftElement>();
  for (const port of input.ports) {
    if (port.kind === 'outside' || !port.sourceDestCheck) {
      const element: NftElement = [{ kind: 'name', value: port.portName }];
      anyElements.set(elementKey(element), element);
    }
  }
  sets.push({ name: objectNames.sourceAny, type: ['ifname'], interval: false, elements: anyElements });
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
    { name: chainNames.egress, rules: [`iifname vmap @${objectNames.egressPorts}`, `goto ${chainNames.ingress}`] },
    { name: chainNames.ingress, rules: [`oifname vmap @${objectNames.ingressPorts}`, 'accept'] },
  ];
}

/** Indices for every group anywhere in the input, and for every (group, referenced) pair. */
function indicesOf(input: RouterInput): { groupIndex: Map<string, number>; pairIndex: Map<string, number> } {
  const groupIds = new Set<string>();
  const pairs = new Set<string>();
  for (const group of input.groups) {
    groupIds.add(group.groupId);
    for (const rule of group.rules) {
      if (rule.peer.kind !== 'group') continue;
      groupIds.add(rule.peer.groupId);
      pairs.add(pairKey(group.groupId, rule.peer.groupId, rule.direction));
    }
  }
  for (const port of input.ports) for (const groupId of port.groupIds) groupIds.add(groupId);
  return { groupIndex: assignIndices(groupIds), pairIndex: assignIndices(pairs) };
}

/** The whole desired ruleset of one router. Pure and deterministic. */
export function compileRouterRuleset(input: RouterInput): NftRuleset {
  const { groupIndex, pairIndex } = indicesOf(input);
  const context: GroupContext = {
    prefixLists: new Map((input.prefixLists ?? []).map((list) => [list.prefixListId, list])),
    groupIndex,
    pairIndex,
    sets: new SetBuilder(),
  };
  const knownGroups = new Set(input.groups.map((group) => group.groupId));
  const chains = new Map<string, NftChain>();
  const counters = new Set<string>([objectNames.spoofCounter]);
  for (const chain of fixedChains()) chains.set(chain.name, chain);
  for (const group of [...input.groups].sort((a, b) => a.groupId.localeCompare(b.groupId))) {
    for (const direction of directions) {
      const chain = compileGroup(group, direction, context);
      chains.set(chain.name, chain);
    }
  }
  const sets = new Map<string, NftSet>();
  for (const direction of directions) {
    for (const family of families) {
      for (const kind of kinds) {
        const cidr = objectNames.cidrSet(direction, family, kind);
        const reference = objectNames.referenceSet(direction, family, kind);
        sets.set(cidr, context.sets.build(cidr, ['mark', ...trafficTypes[kind](family), addressType(family)]));
        sets.set(reference, context.sets.build(reference, ['mark', ...trafficTypes[kind](family)]));
      }
    }
  }
  for (const set of [...compileMemberSets(input, groupIndex), ...compileSourceChecks(input)]) sets.set(set.name, set);
  const egressPorts = new Map<string, string>();
  const ingressPorts = new Map<string, string>();
  for (const port of input.ports) {
    if (port.kind !== 'eni') continue;
    for (const direction of directions) {
      const chainName = objectNames.portChain(port.portName, direction);
      const counter = objectNames.dropCounter(port.portName, direction);
      const jumps = port.groupIds
        .filter((groupId) => knownGroups.has(groupId))
        .map((groupId) => `jump ${objectNames.groupChain(groupId, direction)}`);
      chains.set(chainName, { name: chainName, rules: [...jumps, `counter name "${counter}" drop`] });
      counters.add(counter);
      (direction === 'egress' ? egressPorts : ingressPorts).set(port.portName, chainName);
    }
  }
  const maps = new Map<string, NftVerdictMap>([
    [objectNames.egressPorts, { name: objectNames.egressPorts, elements: egressPorts }],
    [objectNames.ingressPorts, { name: objectNames.ingressPorts, elements: ingressPorts }],
  ]);
  return { table: input.table, sets, maps, chains, counters };
}
