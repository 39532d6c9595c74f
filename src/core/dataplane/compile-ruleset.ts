/**
 * Compiles security groups and router ports into the nftables ruleset of one VPC router.
 *
 * Packet path (forward hook, policy drop):
 *   1. `ct state established,related accept`: replies and related ICMP errors of tracked flows.
 *   2. Source/destination check: a port may only send from its own addresses
 *      (`iifname . saddr` sets), unless its ENI has SourceDestCheck=false.
 *   3. Egress gate: `iifname vmap` → the fixed chain `egress_<k>` for a port with k groups,
 *      which tries each of the port's groups in turn (slot j: `meta mark set iifname map
 *      @slot_<j>` puts the j-th group's index in the mark, then jumps to the lookups of the
 *      group's shard); a match does
 *      `goto sg_ingress`, so an egress accept can never skip ingress. No match: the port's drop
 *      counter (an element of the dynamic set `drops_o`). A port that is no ENI skips this gate.
 *   4. Ingress gate: the same with `oifname`, `ingress_<k>` and `accept`. A destination that is
 *      no ENI (outside) is accepted.
 *
 * All rules are data. A group's CIDR and prefix-list rules are elements of the shared interval
 * sets `cidr_<o|i>_<4|6><p|i|a>` = group index . traffic . peer address, where traffic is
 * protocol . port (p), ICMP type . code (i), or protocol alone (a, also `-1` as 0-255). A rule
 * referencing group Y becomes, for every address of every ENI carrying Y, elements of
 * `refs_<o|i>_<4|6><p|i|a>` = group index . traffic . that address; membership changes add and
 * remove those elements. No chain depends on the world: the table holds 69 chains whatever the
 * number of groups and ENIs, so a transaction costs a few milliseconds instead of a cache
 * refresh of thousands of chains (measured: 15,000 chains cost nft 20-70 ms per transaction).
 * The rule sets are sharded by group index and each slot jumps to its shard's lookups.
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

/** EC2's hard limit of security groups per network interface: one slot each. */
export const maxGroupsPerPort = 16;

/**
 * Rule sets are split in 16 shards by group index (`index & 0xf`): nft reads a whole interval
 * set back before deleting from it, so smaller sets keep deletions cheap.
 */
export const shardCount = 16;
const shardOf = (index: number) => index & (shardCount - 1);

const full = (bits: number): Interval => ({ lo: 0n, hi: (1n << BigInt(bits)) - 1n });
const exact = (value: number | bigint): Interval => ({ lo: BigInt(value), hi: BigInt(value) });
const allProtocols = full(8);
const allPorts = full(16);

export const chainNames = {
  forward: 'forward_gate',
  egress: 'sg_egress',
  ingress: 'sg_ingress',
  gate: (direction: Direction, groupCount: number) => `${direction}_${groupCount}`,
  lookup: (direction: Direction, shard: number) =>
    `lookup_${direction === 'egress' ? 'o' : 'i'}_${shard}`,
} as const;

const directionTag = (direction: Direction) => (direction === 'egress' ? 'o' : 'i');

/**
 * The NFLOG group the router logs new flows to, for the flow logs: every packet a gate drops
 * (prefix `sgpods egress drop` / `sgpods ingress drop`: the in- or out-port names the ENI) and
 * the first packet of every accepted flow (`sgpods accept`). Established packets never reach
 * the gates, so only new flows are logged; with no reader the kernel discards the messages.
 */
export const flowLogGroup = 27;
export const flowLogPrefixes = {
  accept: 'sgpods accept ',
  drop: (direction: Direction) => `sgpods ${direction} drop `,
} as const;
// queue-threshold 1: the kernel hands each message over at once (it batches up to 1 s otherwise).
const logTo = (prefix: string) => `log prefix "${prefix}" group ${flowLogGroup} queue-threshold 1`;

export const objectNames = {
  egressPorts: 'egress_ports',
  ingressPorts: 'ingress_ports',
  slot: (slot: number) => `slot_${slot}`,
  sourceOk: (family: Family) => `src_ok_${family}`,
  sourceAny: 'src_any',
  spoofCounter: 'spoofed',
  drops: (direction: Direction) => `drops_${directionTag(direction)}`,
  shards: (direction: Direction) => `shards_${directionTag(direction)}`,
  cidrSet: (direction: Direction, family: Family, kind: SetKind, shard: number) =>
    `cidr_${directionTag(direction)}_${family}${kind}_${shard}`,
  referenceSet: (direction: Direction, family: Family, kind: SetKind, shard: number) =>
    `refs_${directionTag(direction)}_${family}${kind}_${shard}`,
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
  if (isIcmp(protocol) && protocol === icmpOfFamily) {
    return { kind: 'i', fields: icmpIntervals(ports) };
  }
  // Other protocols (and ICMP of the other family, which carries no ICMP header here): all ports.
  return { kind: 'a', fields: [exact(protocol)] };
}

function peerCidrs(rule: SecurityGroupRule, prefixLists: ReadonlyMap<string, PrefixList>): Cidr[] {
  if (rule.peer.kind === 'cidr') return [rule.peer.cidr];
  if (rule.peer.kind === 'prefix-list') {
    return [...(prefixLists.get(rule.peer.prefixListId)?.cidrs ?? [])];
  }
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

/** Traffic boxes (without the peer field) per direction, family and kind. */
export type TrafficBoxes = Readonly<
  Record<Direction, Readonly<Record<Family, Readonly<Record<SetKind, readonly Box[]>>>>>
>;

const emptyTraffic = (): Record<Direction, Record<Family, Record<SetKind, Box[]>>> => ({
  egress: { 4: { p: [], i: [], a: [] }, 6: { p: [], i: [], a: [] } },
  ingress: { 4: { p: [], i: [], a: [] }, 6: { p: [], i: [], a: [] } },
});

/** What one group, one port, or the fixed frame contributes to the ruleset. */
export interface RulesetPart {
  readonly chains: readonly NftChain[];
  readonly counters: readonly string[];
  /** Set name → element key → element. */
  readonly elements: ReadonlyMap<string, ReadonlyMap<string, NftElement>>;
  /** Map name → interface name → target chain or number. */
  readonly mapEntries: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** A group's rules that reference other groups: referenced group → traffic. */
  readonly references?: ReadonlyMap<string, TrafficBoxes>;
}

class PartBuilder {
  readonly chains: NftChain[] = [];
  readonly counters: string[] = [];
  readonly elements = new Map<string, Map<string, NftElement>>();
  readonly mapEntries = new Map<string, Map<string, string>>();
  references: Map<string, TrafficBoxes> | undefined;

  element(setName: string, element: NftElement): void {
    const elements = this.elements.get(setName) ?? new Map<string, NftElement>();
    elements.set(elementKey(element), element);
    this.elements.set(setName, elements);
  }

  /** Boxes of one index in a shared set, made disjoint first. */
  boxes(setName: string, index: number, boxes: readonly Box[]): void {
    const mark = exact(index);
    for (const box of disjointBoxes(boxes)) this.element(setName, boxElement([mark, ...box]));
  }

  mapEntry(mapName: string, key: string, value: string): void {
    const entries = this.mapEntries.get(mapName) ?? new Map<string, string>();
    entries.set(key, value);
    this.mapEntries.set(mapName, entries);
  }

  build(): RulesetPart {
    return {
      chains: this.chains,
      counters: this.counters,
      elements: this.elements,
      mapEntries: this.mapEntries,
      ...(this.references ? { references: this.references } : {}),
    };
  }
}

/** What compiling a part needs besides the part: prefix lists, indices, references. */
export interface CompileContext {
  readonly prefixLists: ReadonlyMap<string, PrefixList>;
  /** Index of a group id: the `meta mark` its slot sets and the key of its elements. */
  groupIndex(groupId: string): number;
  /** Groups whose rules reference `groupId`, with the traffic they allow from (to) it. */
  referencing(groupId: string): Iterable<[string, TrafficBoxes]>;
}

/** A group's part: its CIDR rules as elements, and its references for the ports to expand. */
export function compileGroupPart(group: SecurityGroup, context: CompileContext): RulesetPart {
  const part = new PartBuilder();
  const groupIndex = context.groupIndex(group.groupId);
  const cidrBoxes = emptyTraffic();
  const references = new Map<string, ReturnType<typeof emptyTraffic>>();
  for (const rule of group.rules) {
    for (const family of families) {
      const { kind, fields } = trafficOf(rule, family);
      if (rule.peer.kind === 'group') {
        const traffic = references.get(rule.peer.groupId) ?? emptyTraffic();
        traffic[rule.direction][family][kind].push(fields);
        references.set(rule.peer.groupId, traffic);
        continue;
      }
      for (const cidr of peerCidrs(rule, context.prefixLists)) {
        if (cidr.family === family)
          cidrBoxes[rule.direction][family][kind].push([...fields, cidrInterval(cidr)]);
      }
    }
  }
  for (const direction of directions) {
    for (const family of families) {
      for (const kind of kinds) {
        const boxes = cidrBoxes[direction][family][kind];
        if (boxes.length > 0)
          part.boxes(
            objectNames.cidrSet(direction, family, kind, shardOf(groupIndex)),
            groupIndex,
            boxes,
          );
      }
    }
  }
  part.references = new Map([...references].sort(([a], [b]) => a.localeCompare(b)));
  return part.build();
}

function addressElement(address: IpAddress): NftElement[number] {
  return { kind: 'interval', lo: address.value, hi: address.value };
}

/** Elements that put this port's addresses into the rules of groups referencing its groups. */
function expandReferences(port: RouterPort, context: CompileContext, part: PartBuilder): void {
  const byReferrer = new Map<string, ReturnType<typeof emptyTraffic>>();
  for (const groupId of new Set(port.groupIds)) {
    for (const [referrer, traffic] of context.referencing(groupId)) {
      const merged = byReferrer.get(referrer) ?? emptyTraffic();
      for (const direction of directions) {
        for (const family of families) {
          for (const kind of kinds)
            merged[direction][family][kind].push(...traffic[direction][family][kind]);
        }
      }
      byReferrer.set(referrer, merged);
    }
  }
  for (const [referrer, traffic] of byReferrer) {
    const index = context.groupIndex(referrer);
    for (const address of port.addresses) {
      const peer = exact(address.value);
      for (const direction of directions) {
        for (const kind of kinds) {
          const boxes = traffic[direction][address.family][kind].map((fields) => [...fields, peer]);
          if (boxes.length > 0)
            part.boxes(
              objectNames.referenceSet(direction, address.family, kind, shardOf(index)),
              index,
              boxes,
            );
        }
      }
    }
  }
}

/** A port's part: source check, group slots, dispatch, and its addresses in referencing rules. */
export function compilePortPart(port: RouterPort, context: CompileContext): RulesetPart {
  const part = new PartBuilder();
  const name: NftElement[number] = { kind: 'name', value: port.portName };
  if (port.kind === 'outside' || !port.sourceDestCheck) part.element(objectNames.sourceAny, [name]);
  if (port.kind !== 'eni') return part.build();
  for (const address of port.addresses) {
    if (port.sourceDestCheck)
      part.element(objectNames.sourceOk(address.family), [name, addressElement(address)]);
  }
  const groupIds = [...new Set(port.groupIds)].slice(0, maxGroupsPerPort);
  groupIds.forEach((groupId, slot) => {
    part.mapEntry(objectNames.slot(slot + 1), port.portName, String(context.groupIndex(groupId)));
  });
  part.mapEntry(objectNames.egressPorts, port.portName, chainNames.gate('egress', groupIds.length));
  part.mapEntry(
    objectNames.ingressPorts,
    port.portName,
    chainNames.gate('ingress', groupIds.length),
  );
  expandReferences(port, context, part);
  return part.build();
}

/**
 * The gate chain for ports with `count` groups: for each slot, the group's index into the mark,
 * then a jump to the lookups of its shard (which end the packet's evaluation on a match, or
 * return); after the last slot, the port's drop counter.
 */
function gateChain(direction: Direction, count: number): NftChain {
  const port = direction === 'egress' ? 'iifname' : 'oifname';
  const rules: string[] = [];
  for (let slot = 1; slot <= count; slot++) {
    rules.push(
      `meta mark set ${port} map @${objectNames.slot(slot)} meta mark and ${shardCount - 1} vmap @${objectNames.shards(direction)}`,
    );
  }
  rules.push(
    `update @${objectNames.drops(direction)} { ${port} } ${logTo(flowLogPrefixes.drop(direction))} drop`,
  );
  return { name: chainNames.gate(direction, count), rules };
}

/**
 * The lookups of one shard: the group's CIDR rules and its expanded references, IPv4 first; an
 * IPv4 packet returns before the IPv6 lookups (new flows pay for their own family only).
 */
function lookupChain(direction: Direction, shard: number): NftChain {
  const verdict =
    direction === 'egress'
      ? `goto ${chainNames.ingress}`
      : `${logTo(flowLogPrefixes.accept)} accept`;
  const rules: string[] = [];
  for (const family of families) {
    if (family === 6) rules.push('meta nfproto ipv4 return');
    for (const kind of kinds) {
      for (const set of [
        objectNames.cidrSet(direction, family, kind, shard),
        objectNames.referenceSet(direction, family, kind, shard),
      ]) {
        rules.push(
          `meta mark . ${lookupOf[kind][family]} . ${peerSelector[direction][family]} @${set} ${verdict}`,
        );
      }
    }
  }
  return { name: chainNames.lookup(direction, shard), rules };
}

function fixedChains(): NftChain[] {
  const gates = directions.flatMap((direction) => [
    ...Array.from({ length: maxGroupsPerPort + 1 }, (_, count) => gateChain(direction, count)),
    ...Array.from({ length: shardCount }, (_, shard) => lookupChain(direction, shard)),
  ]);
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
    {
      name: chainNames.ingress,
      rules: [
        `oifname vmap @${objectNames.ingressPorts}`,
        `${logTo(flowLogPrefixes.accept)} accept`,
      ],
    },
    ...gates,
  ];
}

/** The frame every router has: all chains, the spoof counter, the shared sets and maps (empty). */
export function routerFrame(table: string): NftRuleset {
  const sets = new Map<string, NftSet>();
  const declare = (name: string, type: NftFieldType[], interval: boolean, dynamic = false) => {
    sets.set(name, { name, type, interval, elements: new Map(), ...(dynamic ? { dynamic } : {}) });
  };
  for (const direction of directions) {
    for (const family of families) {
      for (const kind of kinds) {
        const type: NftFieldType[] = ['mark', ...trafficTypes[kind](family), addressType(family)];
        for (let shard = 0; shard < shardCount; shard++) {
          declare(objectNames.cidrSet(direction, family, kind, shard), type, true);
          declare(objectNames.referenceSet(direction, family, kind, shard), type, true);
        }
      }
    }
    declare(objectNames.drops(direction), ['ifname'], false, true);
  }
  for (const family of families)
    declare(objectNames.sourceOk(family), ['ifname', addressType(family)], false);
  declare(objectNames.sourceAny, ['ifname'], false);
  const maps = new Map<string, NftVerdictMap>();
  for (const name of [objectNames.egressPorts, objectNames.ingressPorts]) {
    maps.set(name, { name, value: 'verdict', elements: new Map() });
  }
  for (let slot = 1; slot <= maxGroupsPerPort; slot++) {
    const name = objectNames.slot(slot);
    maps.set(name, { name, value: 'mark', elements: new Map() });
  }
  for (const direction of directions) {
    const name = objectNames.shards(direction);
    const elements = new Map(
      Array.from({ length: shardCount }, (_, shard) => [
        String(shard),
        chainNames.lookup(direction, shard),
      ]),
    );
    maps.set(name, { name, key: 'mark', value: 'jump', elements });
  }
  return {
    table,
    sets,
    maps,
    chains: new Map(fixedChains().map((chain) => [chain.name, chain])),
    counters: new Set([objectNames.spoofCounter]),
  };
}

/** Every group id anywhere in the input (each needs an index). */
export function groupIdsOf(input: Pick<RouterInput, 'groups' | 'ports'>): Set<string> {
  const groups = new Set<string>();
  for (const group of input.groups) {
    groups.add(group.groupId);
    for (const rule of group.rules) if (rule.peer.kind === 'group') groups.add(rule.peer.groupId);
  }
  for (const port of input.ports) for (const groupId of port.groupIds) groups.add(groupId);
  return groups;
}

export interface MutableRuleset {
  readonly table: string;
  readonly sets: Map<
    string,
    Omit<NftSet, 'elements'> & { readonly elements: Map<string, NftElement> }
  >;
  readonly maps: Map<
    string,
    Omit<NftVerdictMap, 'elements'> & { readonly elements: Map<string, string> }
  >;
  readonly chains: Map<string, NftChain>;
  readonly counters: Set<string>;
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
    for (const [key, value] of entries) map.elements.set(key, value);
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
  const indices = assignIndices(groupIdsOf(input));
  const groupParts = new Map<string, RulesetPart>();
  const context: CompileContext = {
    prefixLists: new Map((input.prefixLists ?? []).map((list) => [list.prefixListId, list])),
    groupIndex: (groupId) => {
      const index = indices.get(groupId);
      if (index === undefined) throw new RangeError(`no index for ${groupId}`);
      return index;
    },
    *referencing(groupId) {
      for (const [referrer, part] of groupParts) {
        const traffic = part.references?.get(groupId);
        if (traffic) yield [referrer, traffic];
      }
    },
  };
  const ruleset = mutableFrame(input.table);
  for (const group of input.groups) {
    const part = compileGroupPart(group, context);
    groupParts.set(group.groupId, part);
    addPart(ruleset, part);
  }
  for (const port of input.ports) addPart(ruleset, compilePortPart(port, context));
  return ruleset;
}
