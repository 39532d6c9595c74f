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
  cidrSet: (direction: Direction, family: Family, kind: SetKind) =>
    `cidr_${directionTag(direction)}_${family}${kind}`,
  referenceSet: (direction: Direction, family: Family, kind: SetKind) =>
    `ref_${directionTag(direction)}_${family}${kind}`,
  memberSet: (family: Family) => `members_${family}`,
  portChain: (portName: string, direction: Direction) => `e_${portName}_${directionTag(direction)}`,
  dropCounter: (portName: string, direction: Direction) =>
    `d_${portName}_${directionTag(direction)}`,
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

function peerCidrs(rule: SecurityGroupRule, prefixLists: ReadonlyMap<string, PrefixList>): Cidr[] {
  if (rule.peer.kind === 'cidr') return [rule.peer.cidr];
  if (rule.peer.kind === 'prefix-list')
    return [...(prefixLists.get(rule.peer.prefixListId)?.cidrs ?? [])];
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

/** What one group, one port, or the fixed frame contributes to the ruleset. */
export interface RulesetPart {
  readonly chains: readonly NftChain[];
  readonly counters: readonly string[];
  /** Set name → element key → element. */
  readonly elements: ReadonlyMap<string, ReadonlyMap<string, NftElement>>;
  /** Verdict map name → interface name → target chain. */
  readonly mapEntries: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

class PartBuilder {
  readonly chains: NftChain[] = [];
  readonly counters: string[] = [];
  readonly elements = new Map<string, Map<string, NftElement>>();
  readonly mapEntries = new Map<string, Map<string, string>>();

  element(setName: string, element: NftElement): void {
    const elements = this.elements.get(setName) ?? new Map<string, NftElement>();
    elements.set(elementKey(element), element);
    this.elements.set(setName, elements);
  }

  /** Boxes of one index (group or pair) in a shared set, made disjoint first. */
  boxes(setName: string, index: number, boxes: readonly Box[]): void {
    const mark = exact(index);
    for (const box of disjointBoxes(boxes)) this.element(setName, boxElement([mark, ...box]));
  }

  mapEntry(mapName: string, key: string, target: string): void {
    const entries = this.mapEntries.get(mapName) ?? new Map<string, string>();
    entries.set(key, target);
    this.mapEntries.set(mapName, entries);
  }

  build(): RulesetPart {
    return {
      chains: this.chains,
      counters: this.counters,
      elements: this.elements,
      mapEntries: this.mapEntries,
    };
  }
}

/** What compiling a part needs besides the part: prefix lists, and stable indices. */
export interface CompileContext {
  readonly prefixLists: ReadonlyMap<string, PrefixList>;
  /** Index of a group id (the `meta mark` its chain sets, the member-set tag). */
  groupIndex(groupId: string): number;
  /** Index of a (group, referenced group, direction) pair. */
  pairIndex(key: string): number;
  /** Whether a group is described (a port jumps only to described groups). */
  hasGroup(groupId: string): boolean;
}

export const pairKey = (groupId: string, referenced: string, direction: Direction): string =>
  `${groupId}>${referenced}/${directionTag(direction)}`;

/** One group's chain for one direction; its rules' elements go to the shared sets. */
function compileGroupDirection(
  group: SecurityGroup,
  direction: Direction,
  context: CompileContext,
  part: PartBuilder,
): NftChain {
  const verdict = direction === 'egress' ? `goto ${chainNames.ingress}` : 'accept';
  const rules = group.rules.filter((rule) => rule.direction === direction);
  const groupIndex = context.groupIndex(group.groupId);
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
      part.boxes(name, groupIndex, boxes[kind]);
      lines.push(
        `meta mark . ${lookupOf[kind][family]} . ${peerSelector[direction][family]} @${name} ${verdict}`,
      );
    }
    for (const [referenced, traffic] of [...byReference].sort(([a], [b]) => a.localeCompare(b))) {
      const referencedIndex = context.groupIndex(referenced);
      const pair = context.pairIndex(pairKey(group.groupId, referenced, direction));
      for (const kind of kinds) {
        if (traffic[kind].length === 0) continue;
        const name = objectNames.referenceSet(direction, family, kind);
        part.boxes(name, pair, traffic[kind]);
        referenceLines.push(
          `meta mark set ${referencedIndex} ${peerSelector[direction][family]} . meta mark @${objectNames.memberSet(family)} meta mark set ${pair} meta mark . ${lookupOf[kind][family]} @${name} ${verdict}`,
        );
      }
    }
  }
  const head = lines.length > 0 ? [`meta mark set ${groupIndex}`] : [];
  return {
    name: objectNames.groupChain(group.groupId, direction),
    rules: [...head, ...lines, ...referenceLines],
  };
}

/** A group's part: its two chains and its elements in the shared sets. */
export function compileGroupPart(group: SecurityGroup, context: CompileContext): RulesetPart {
  const part = new PartBuilder();
  for (const direction of directions)
    part.chains.push(compileGroupDirection(group, direction, context, part));
  return part.build();
}

function addressElement(address: IpAddress): NftElement[number] {
  return { kind: 'interval', lo: address.value, hi: address.value };
}

/** A port's part: its chains and counters, memberships, source check, dispatch entries. */
export function compilePortPart(port: RouterPort, context: CompileContext): RulesetPart {
  const part = new PartBuilder();
  const name: NftElement[number] = { kind: 'name', value: port.portName };
  if (port.kind === 'outside' || !port.sourceDestCheck) part.element(objectNames.sourceAny, [name]);
  if (port.kind !== 'eni') return part.build();
  for (const address of port.addresses) {
    const family = address.family;
    if (port.sourceDestCheck)
      part.element(objectNames.sourceOk(family), [name, addressElement(address)]);
    for (const groupId of port.groupIds) {
      const index = BigInt(context.groupIndex(groupId));
      part.element(objectNames.memberSet(family), [
        addressElement(address),
        { kind: 'interval', lo: index, hi: index },
      ]);
    }
  }
  for (const direction of directions) {
    const chainName = objectNames.portChain(port.portName, direction);
    const counter = objectNames.dropCounter(port.portName, direction);
    const jumps = port.groupIds
      .filter((groupId) => context.hasGroup(groupId))
      .map((groupId) => `jump ${objectNames.groupChain(groupId, direction)}`);
    part.chains.push({ name: chainName, rules: [...jumps, `counter name "${counter}" drop`] });
    part.counters.push(counter);
    part.mapEntry(
      direction === 'egress' ? objectNames.egressPorts : objectNames.ingressPorts,
      port.portName,
      chainName,
    );
  }
  return part.build();
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

/** The frame every router has: base and stage chains, the spoof counter, empty shared sets and maps. */
export function routerFrame(table: string): NftRuleset {
  const sets = new Map<string, NftSet>();
  const declare = (name: string, type: NftFieldType[], interval: boolean) => {
    sets.set(name, { name, type, interval, elements: new Map() });
  };
  for (const direction of directions) {
    for (const family of families) {
      for (const kind of kinds) {
        declare(
          objectNames.cidrSet(direction, family, kind),
          ['mark', ...trafficTypes[kind](family), addressType(family)],
          true,
        );
        declare(
          objectNames.referenceSet(direction, family, kind),
          ['mark', ...trafficTypes[kind](family)],
          true,
        );
      }
    }
  }
  for (const family of families) {
    declare(objectNames.memberSet(family), [addressType(family), 'mark'], false);
    declare(objectNames.sourceOk(family), ['ifname', addressType(family)], false);
  }
  declare(objectNames.sourceAny, ['ifname'], false);
  const maps = new Map<string, NftVerdictMap>(
    [objectNames.egressPorts, objectNames.ingressPorts].map((name) => [
      name,
      { name, elements: new Map<string, string>() },
    ]),
  );
  return {
    table,
    sets,
    maps,
    chains: new Map(fixedChains().map((chain) => [chain.name, chain])),
    counters: new Set([objectNames.spoofCounter]),
  };
}

/** Keys that need indices: every group anywhere, every (group, referenced) pair. */
export function indexKeysOf(input: Pick<RouterInput, 'groups' | 'ports'>): {
  groups: Set<string>;
  pairs: Set<string>;
} {
  const groups = new Set<string>();
  const pairs = new Set<string>();
  for (const group of input.groups) {
    groups.add(group.groupId);
    for (const rule of group.rules) {
      if (rule.peer.kind !== 'group') continue;
      groups.add(rule.peer.groupId);
      pairs.add(pairKey(group.groupId, rule.peer.groupId, rule.direction));
    }
  }
  for (const port of input.ports) for (const groupId of port.groupIds) groups.add(groupId);
  return { groups, pairs };
}

/** Adds a part's contributions to a mutable ruleset being assembled. */
export function addPart(ruleset: MutableRuleset, part: RulesetPart): void {
  for (const chain of part.chains) ruleset.chains.set(chain.name, chain);
  for (const counter of part.counters) ruleset.counters.add(counter);
  for (const [setName, elements] of part.elements) {
    const set = ruleset.sets.get(setName);
    if (!set) throw new RangeError(`no set ${setName}`);
    for (const [key, element] of elements) set.elements.set(key, element);
  }
  for (const [mapName, entries] of part.mapEntries) {
    const map = ruleset.maps.get(mapName);
    if (!map) throw new RangeError(`no map ${mapName}`);
    for (const [key, target] of entries) map.elements.set(key, target);
  }
}

/** Removes a part's contributions (the inverse of `addPart`). */
export function removePart(ruleset: MutableRuleset, part: RulesetPart): void {
  for (const chain of part.chains) ruleset.chains.delete(chain.name);
  for (const counter of part.counters) ruleset.counters.delete(counter);
  for (const [setName, elements] of part.elements) {
    const set = ruleset.sets.get(setName);
    for (const key of elements.keys()) set?.elements.delete(key);
  }
  for (const [mapName, entries] of part.mapEntries) {
    const map = ruleset.maps.get(mapName);
    for (const key of entries.keys()) map?.elements.delete(key);
  }
}

export interface MutableRuleset {
  readonly table: string;
  readonly sets: Map<
    string,
    {
      readonly name: string;
      readonly type: readonly NftFieldType[];
      readonly interval: boolean;
      readonly elements: Map<string, NftElement>;
    }
  >;
  readonly maps: Map<string, { readonly name: string; readonly elements: Map<string, string> }>;
  readonly chains: Map<string, NftChain>;
  readonly counters: Set<string>;
}

/** A mutable copy of a frame (fresh maps and sets all the way down). */
export function mutableFrame(table: string): MutableRuleset {
  const frame = routerFrame(table);
  return {
    table,
    sets: new Map(
      [...frame.sets].map(([name, set]) => [name, { ...set, elements: new Map(set.elements) }]),
    ),
    maps: new Map(
      [...frame.maps].map(([name, map]) => [name, { ...map, elements: new Map(map.elements) }]),
    ),
    chains: new Map(frame.chains),
    counters: new Set(frame.counters),
  };
}

/** The whole desired ruleset of one router at once. Pure and deterministic. */
export function compileRouterRuleset(input: RouterInput): NftRuleset {
  const keys = indexKeysOf(input);
  const groupIndex = assignIndices(keys.groups);
  const pairIndex = assignIndices(keys.pairs);
  const known = new Set(input.groups.map((group) => group.groupId));
  const lookup = (indices: Map<string, number>, key: string) => {
    const index = indices.get(key);
    if (index === undefined) throw new RangeError(`no index for ${key}`);
    return index;
  };
  const context: CompileContext = {
    prefixLists: new Map((input.prefixLists ?? []).map((list) => [list.prefixListId, list])),
    groupIndex: (groupId) => lookup(groupIndex, groupId),
    pairIndex: (key) => lookup(pairIndex, key),
    hasGroup: (groupId) => known.has(groupId),
  };
  const ruleset = mutableFrame(input.table);
  for (const group of input.groups) addPart(ruleset, compileGroupPart(group, context));
  for (const port of input.ports) addPart(ruleset, compilePortPart(port, context));
  return ruleset;
}
