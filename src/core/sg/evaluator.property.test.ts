/**
 * Property tests: the indexed evaluator agrees with a brute-force reference written independently
 * below (scan every rule of every group), and adding a group or a rule never turns allow into deny.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrContains, parseCidr, parseIpAddress, type IpAddress } from '../net/ip-address.js';
import { evaluateFlow, type Flow } from './evaluator.js';
import type { Protocol } from './protocol.js';
import { normalizeRule, type RuleSpec, type SecurityGroupRule } from './rule.js';
import type { SecurityGroup } from './security-group.js';
import { World, type NetworkInterface, type PrefixList, type WorldInput } from './world.js';

const groupIds = [
  'sg-00000000000000001',
  'sg-00000000000000002',
  'sg-00000000000000003',
  'sg-00000000000000004',
];
const prefixListId = 'pl-00000000000000001';
const v4Pool = Array.from({ length: 6 }, (_, i) => `10.0.0.${i * 20 + 1}`);
const v6Pool = ['2001:db8::1', '2001:db8::8000:1', '2001:db8:ffff::1'];

const portArb = fc.constantFrom(0, 22, 80, 443, 1024, 65535);
const v4CidrArb = fc
  .tuple(fc.constantFrom(...v4Pool), fc.constantFrom(0, 0, 24, 26, 27, 32))
  .map(([address, length]) => `${address}/${length}`);
const v6CidrArb = fc
  .tuple(fc.constantFrom(...v6Pool), fc.constantFrom(0, 0, 33, 128))
  .map(([address, length]) => `${address}/${length}`);

const peerArb: fc.Arbitrary<Partial<RuleSpec>> = fc.oneof(
  v4CidrArb.map((cidrIpv4) => ({ cidrIpv4 })),
  v4CidrArb.map((cidrIpv4) => ({ cidrIpv4 })),
  v6CidrArb.map((cidrIpv6) => ({ cidrIpv6 })),
  fc.constantFrom(...groupIds).map((referencedGroupId) => ({ referencedGroupId })),
  fc.constant({ prefixListId }),
);

const trafficArb: fc.Arbitrary<Pick<RuleSpec, 'protocol' | 'fromPort' | 'toPort'>> = fc.oneof(
  fc.constant({ protocol: '-1' }),
  fc.constantFrom('47', '132').map((protocol) => ({ protocol })),
  fc
    .tuple(fc.constantFrom('tcp', 'udp', '6'), portArb, portArb)
    .map(([protocol, a, b]) => ({ protocol, fromPort: Math.min(a, b), toPort: Math.max(a, b) })),
  fc
    .tuple(fc.constantFrom('icmp', 'icmpv6'), fc.constantFrom(-1, 0, 8), fc.constantFrom(-1, 0))
    .map(([protocol, fromPort, toPort]) => ({ protocol, fromPort, toPort })),
);

const ruleArb = fc
  .tuple(
    fc.constantFrom(...groupIds),
    fc.constantFrom<'ingress' | 'egress'>('ingress', 'ingress', 'egress'),
    trafficArb,
    peerArb,
  )
  .map(([groupId, direction, traffic, peer]) =>
    normalizeRule(groupId, direction, { ...traffic, ...peer }),
  );

const interfaceArb = fc.record({
  addresses: fc.uniqueArray(fc.constantFrom(...v4Pool, ...v6Pool), { minLength: 1, maxLength: 4 }),
  groupIds: fc.uniqueArray(fc.constantFrom(...groupIds), { minLength: 1, maxLength: 3 }),
});

function address(text: string): IpAddress {
  const parsed = parseIpAddress(text);
  if (!parsed) throw new Error(text);
  return parsed;
}

function dedupeRules(rules: readonly SecurityGroupRule[]): SecurityGroupRule[] {
  const seen = new Set<string>();
  return rules.filter((rule) => {
    const key = JSON.stringify(rule, (_k, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v,
    );
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const worldArb: fc.Arbitrary<WorldInput> = fc
  .tuple(
    fc.array(ruleArb, { maxLength: 40 }),
    fc.array(interfaceArb, { minLength: 2, maxLength: 6 }),
    fc.uniqueArray(fc.constantFrom(...v4Pool.slice(0, 6)), { maxLength: 2 }),
    fc.array(fc.constantFrom('none', '0.0.0.0/0', '::/0', 'both'), {
      minLength: groupIds.length,
      maxLength: groupIds.length,
    }),
  )
  .map(([rules, interfaces, listEntries, openEgress]) => {
    // Most groups keep an open egress, as new groups do, so that ingress decides often.
    const defaults = groupIds.flatMap((groupId, index) => {
      const open = openEgress[index] ?? 'none';
      const cidrs = open === 'both' ? ['0.0.0.0/0', '::/0'] : open === 'none' ? [] : [open];
      return cidrs.map((cidr) =>
        normalizeRule(groupId, 'egress', {
          protocol: '-1',
          ...(cidr.includes(':') ? { cidrIpv6: cidr } : { cidrIpv4: cidr }),
        }),
      );
    });
    const unique = dedupeRules([...defaults, ...rules]);
    const groups: SecurityGroup[] = groupIds.map((groupId) => ({
      groupId,
      groupName: groupId,
      rules: unique.filter((rule) => rule.groupId === groupId),
    }));
    const taken = new Set<string>();
    const networkInterfaces: NetworkInterface[] = [];
    interfaces.forEach((eni, index) => {
      const free = eni.addresses.filter((text) => !taken.has(text));
      free.forEach((text) => taken.add(text));
      if (free.length === 0) return;
      networkInterfaces.push({
        networkInterfaceId: `eni-${index}`,
        addresses: free.map(address),
        groupIds: eni.groupIds,
      });
    });
    const prefixLists: PrefixList[] = [
      { prefixListId, cidrs: listEntries.map((entry) => parseCidr(`${entry}/30`)!.cidr) },
    ];
    return { groups, networkInterfaces, prefixLists };
  });

const flowArb: fc.Arbitrary<Flow> = fc
  .tuple(
    fc.boolean(),
    fc.nat(),
    fc.nat(),
    fc.constantFrom<Protocol>(6, 17, 1, 58, 47, 'all'),
    portArb,
    fc.constantFrom(0, 3, 8),
    fc.constantFrom(0, 1),
  )
  .map(([v6, s, d, protocol, port, icmpType, icmpCode]) => {
    const pool = v6 ? v6Pool : v4Pool;
    return {
      source: address(pool[s % pool.length]!),
      destination: address(pool[d % pool.length]!),
      protocol,
      port,
      icmpType,
      icmpCode,
    };
  });

type Traffic = Pick<Flow, 'protocol' | 'port' | 'icmpType' | 'icmpCode'>;

/** The traffic on and just past the edges of a rule's ports (or ICMP type and code). */
function edgesOf(rule: SecurityGroupRule): Traffic[] {
  if (rule.protocol === 'all' || rule.ports.kind === 'all') {
    return [
      { protocol: rule.protocol === 'all' ? 6 : rule.protocol, port: 80 },
      { protocol: 'all' },
    ];
  }
  if (rule.ports.kind === 'range') {
    const { from, to } = rule.ports;
    const protocol = rule.protocol;
    return [from - 1, from, to, to + 1]
      .filter((port) => port >= 0 && port <= 65535)
      .map((port) => ({ protocol, port }));
  }
  const type = rule.ports.type === -1 ? 8 : rule.ports.type;
  const code = rule.ports.code === -1 ? 0 : rule.ports.code;
  return [
    { protocol: rule.protocol, icmpType: type, icmpCode: code },
    { protocol: rule.protocol, icmpType: type + 1, icmpCode: code },
    { protocol: rule.protocol, icmpType: type, icmpCode: code + 1 },
  ];
}

/**
 * Flows aimed at one rule of the world: from (or to) an interface carrying its group, to (or
 * from) an address its peer matches, on the edges of its ports, so that every part of a rule is
 * exercised where it decides.
 */
function targetedFlowArb(input: WorldInput): fc.Arbitrary<Flow> {
  const rules = input.groups.flatMap((group) => group.rules);
  if (rules.length === 0) return flowArb;
  const everywhere = [...v4Pool, ...v6Pool, '192.0.2.1', '2001:db9::1'].map(address);
  return fc
    .tuple(fc.constantFrom(...rules), fc.nat(), fc.nat(), fc.nat())
    .map(([rule, i, j, k]) => {
      const holders = input.networkInterfaces
        .filter((eni) => eni.groupIds.includes(rule.groupId))
        .flatMap((eni) => eni.addresses);
      const self =
        holders.length > 0 ? holders[i % holders.length]! : everywhere[i % everywhere.length]!;
      const sameFamily = everywhere.filter((a) => a.family === self.family && a.text !== self.text);
      const matching = sameFamily.filter((a) => referencePeerMatch(input, rule, a));
      const candidates = matching.length > 0 && j % 4 !== 0 ? matching : sameFamily;
      const other = candidates[j % candidates.length]!;
      const edges = edgesOf(rule);
      const traffic = edges[k % edges.length]!;
      const [source, destination] = rule.direction === 'ingress' ? [other, self] : [self, other];
      return { source, destination, ...traffic };
    });
}

const worldAndFlowArb = worldArb.chain((input) =>
  fc.tuple(fc.constant(input), fc.oneof(targetedFlowArb(input), targetedFlowArb(input), flowArb)),
);

/* ---------- the brute-force reference: no index, every rule of every group ---------- */

function referencePortMatch(
  rule: SecurityGroupRule,
  protocol: number,
  point: { port: number; type: number; code: number },
): boolean {
  if (rule.protocol !== 'all' && rule.protocol !== protocol) return false;
  if (rule.protocol === 'all' || rule.ports.kind === 'all') return true;
  if (rule.ports.kind === 'range')
    return point.port >= rule.ports.from && point.port <= rule.ports.to;
  return (
    (rule.ports.type === -1 || rule.ports.type === point.type) &&
    (rule.ports.code === -1 || rule.ports.code === point.code)
  );
}

function referencePeerMatch(input: WorldInput, rule: SecurityGroupRule, peer: IpAddress): boolean {
  const p = rule.peer;
  if (p.kind === 'cidr') return cidrContains(p.cidr, peer);
  if (p.kind === 'prefix-list') {
    const list = (input.prefixLists ?? []).find((l) => l.prefixListId === p.prefixListId);
    return list?.cidrs.some((cidr) => cidrContains(cidr, peer)) ?? false;
  }
  return input.networkInterfaces.some(
    (eni) => eni.groupIds.includes(p.groupId) && eni.addresses.some((a) => a.text === peer.text),
  );
}

function referenceGate(
  input: WorldInput,
  eni: NetworkInterface,
  direction: 'ingress' | 'egress',
  flow: Flow,
): boolean {
  const peer = direction === 'egress' ? flow.destination : flow.source;
  const rules = input.groups
    .flatMap((group) => group.rules)
    .filter((rule) => rule.direction === direction && eni.groupIds.includes(rule.groupId))
    .filter((rule) => referencePeerMatch(input, rule, peer));
  const allows = (protocol: number, point: { port: number; type: number; code: number }): boolean =>
    rules.some((rule) => referencePortMatch(rule, protocol, point));
  if (flow.protocol !== 'all') {
    return allows(flow.protocol, {
      port: flow.port ?? 0,
      type: flow.icmpType ?? 0,
      code: flow.icmpCode ?? 0,
    });
  }
  // Every protocol, every port: the ports where coverage can change are rule bounds ± 1.
  const ports = new Set([0, 65535]);
  for (const rule of rules) {
    if (rule.ports.kind === 'range') {
      for (const p of [rule.ports.from, rule.ports.to + 1]) if (p <= 65535) ports.add(p);
    }
  }
  for (let protocol = 0; protocol <= 255; protocol++) {
    if (protocol === 6 || protocol === 17) {
      for (const port of ports) if (!allows(protocol, { port, type: 0, code: 0 })) return false;
    } else if (protocol === 1 || protocol === 58) {
      for (let type = 0; type <= 255; type++) {
        for (const code of [0, 1, 255])
          if (!allows(protocol, { port: 0, type, code })) return false;
      }
    } else if (!allows(protocol, { port: 0, type: 0, code: 0 })) {
      return false;
    }
  }
  return true;
}

function referenceVerdict(input: WorldInput, flow: Flow): 'allow' | 'deny' | 'error' {
  const at = (a: IpAddress) =>
    input.networkInterfaces.find((eni) => eni.addresses.some((x) => x.text === a.text));
  const source = at(flow.source);
  const destination = at(flow.destination);
  if (flow.source.family !== flow.destination.family) return 'error';
  if (!source && !destination) return 'error';
  if (source && source === destination) return 'allow';
  const egressOk = source ? referenceGate(input, source, 'egress', flow) : true;
  const ingressOk = destination ? referenceGate(input, destination, 'ingress', flow) : true;
  return egressOk && ingressOk ? 'allow' : 'deny';
}

function verdictOf(input: WorldInput, flow: Flow): 'allow' | 'deny' | 'error' {
  try {
    return evaluateFlow(new World(input), flow).verdict;
  } catch {
    return 'error';
  }
}

describe('evaluator properties', () => {
  it('agrees with the brute-force reference on random worlds', () => {
    fc.assert(
      fc.property(worldAndFlowArb, ([input, flow]) => {
        expect(verdictOf(input, flow)).toBe(referenceVerdict(input, flow));
      }),
      { numRuns: 1500 },
    );
  });

  it('never turns allow into deny when a rule is added', () => {
    fc.assert(
      fc.property(worldAndFlowArb, ruleArb, ([input, flow], extra) => {
        fc.pre(verdictOf(input, flow) === 'allow');
        const groups = input.groups.map((group) =>
          group.groupId === extra.groupId
            ? { ...group, rules: dedupeRules([...group.rules, extra]) }
            : group,
        );
        expect(verdictOf({ ...input, groups }, flow)).toBe('allow');
      }),
      { numRuns: 300 },
    );
  });

  it('never turns allow into deny when a group is added to an interface', () => {
    fc.assert(
      fc.property(
        worldAndFlowArb,
        fc.nat(),
        fc.constantFrom(...groupIds),
        ([input, flow], which, groupId) => {
          fc.pre(verdictOf(input, flow) === 'allow');
          const index = which % input.networkInterfaces.length;
          const networkInterfaces = input.networkInterfaces.map((eni, i) =>
            i === index && !eni.groupIds.includes(groupId)
              ? { ...eni, groupIds: [...eni.groupIds, groupId] }
              : eni,
          );
          expect(verdictOf({ ...input, networkInterfaces }, flow)).toBe('allow');
        },
      ),
      { numRuns: 300 },
    );
  });
});
