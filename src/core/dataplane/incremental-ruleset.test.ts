/**
 * The incremental model agrees with compiling the whole world from scratch, after any sequence
 * of changes (property test over random sequences).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIpAddress } from '../net/ip-address.js';
import { normalizeRule, type RuleSpec } from '../sg/rule.js';
import { newGroupRules, type SecurityGroup } from '../sg/security-group.js';
import { compileRouterRuleset, type RouterPort } from './compile-ruleset.js';
import { IncrementalRuleset } from './incremental-ruleset.js';
import type { NftRuleset } from './nft-ruleset.js';

const groupIds = Array.from(
  { length: 5 },
  (_, i) => `sg-${(i + 1).toString(16).padStart(17, '0')}`,
);
const portNames = ['p0', 'p1', 'p2', 'p3'];

const specArb: fc.Arbitrary<RuleSpec> = fc.oneof(
  fc.record({
    protocol: fc.constant('tcp'),
    fromPort: fc.constantFrom(22, 80),
    toPort: fc.constantFrom(80, 443),
    cidrIpv4: fc.constantFrom('10.0.0.0/8', '10.1.0.0/16', '0.0.0.0/0'),
  }),
  fc.record({
    protocol: fc.constantFrom('-1', '47'),
    referencedGroupId: fc.constantFrom(...groupIds),
  }),
  fc.record({
    protocol: fc.constant('icmp'),
    fromPort: fc.constantFrom(-1, 8),
    toPort: fc.constant(-1),
    cidrIpv4: fc.constant('10.0.0.0/8'),
  }),
  fc.record({
    protocol: fc.constant('udp'),
    fromPort: fc.constant(53),
    toPort: fc.constant(53),
    cidrIpv6: fc.constant('::/0'),
  }),
);

const groupArb = fc
  .tuple(
    fc.constantFrom(...groupIds),
    fc.array(fc.tuple(fc.constantFrom('ingress', 'egress' as const), specArb), { maxLength: 5 }),
  )
  .map(([groupId, specs]): SecurityGroup => {
    const seen = new Set<string>();
    const rules = specs
      .map(([direction, spec]) => normalizeRule(groupId, direction, spec))
      .filter((rule) => {
        const key = JSON.stringify(rule, (_k, v: unknown) =>
          typeof v === 'bigint' ? String(v) : v,
        );
        return !seen.has(key) && seen.add(key);
      });
    return { groupId, groupName: groupId, rules: [...rules, ...newGroupRules(groupId)] };
  });

const portArb = fc
  .tuple(
    fc.constantFrom(...portNames),
    fc.uniqueArray(fc.constantFrom(...groupIds), { maxLength: 3 }),
    fc.boolean(),
    fc.nat(200),
  )
  .map(([portName, groups, check, host]): RouterPort => ({
    portName,
    kind: 'eni',
    addresses: [
      parseIpAddress(`10.0.${portNames.indexOf(portName)}.${host + 1}`)!,
      parseIpAddress(`2001:db8::${portNames.indexOf(portName) + 1}`)!,
    ],
    groupIds: groups,
    sourceDestCheck: check,
  }));

type Change =
  | { kind: 'put-group'; group: SecurityGroup }
  | { kind: 'remove-group'; groupId: string }
  | { kind: 'set-port'; port: RouterPort }
  | { kind: 'remove-port'; portName: string };

const changeArb: fc.Arbitrary<Change> = fc.oneof(
  groupArb.map((group) => ({ kind: 'put-group' as const, group })),
  fc.constantFrom(...groupIds).map((groupId) => ({ kind: 'remove-group' as const, groupId })),
  portArb.map((port) => ({ kind: 'set-port' as const, port })),
  fc.constantFrom(...portNames).map((portName) => ({ kind: 'remove-port' as const, portName })),
);

function comparable(ruleset: NftRuleset) {
  return {
    sets: Object.fromEntries(
      [...ruleset.sets].map(([name, set]) => [name, [...set.elements.keys()].sort()]),
    ),
    maps: Object.fromEntries(
      [...ruleset.maps].map(([name, map]) => [name, [...map.elements].sort()]),
    ),
    chains: Object.fromEntries([...ruleset.chains].map(([name, chain]) => [name, chain.rules])),
    counters: [...ruleset.counters].sort(),
  };
}

describe('the incremental ruleset', () => {
  it('equals a full compile after any sequence of changes (property)', () => {
    fc.assert(
      fc.property(
        fc.array(changeArb, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 5 }),
        (changes, every) => {
          const model = new IncrementalRuleset('sgpods');
          const groups = new Map<string, SecurityGroup>();
          const ports = new Map<string, RouterPort>();
          changes.forEach((change, step) => {
            if (change.kind === 'put-group') {
              groups.set(change.group.groupId, change.group);
              model.putGroup(change.group);
            } else if (change.kind === 'remove-group') {
              groups.delete(change.groupId);
              model.removeGroup(change.groupId);
            } else if (change.kind === 'set-port') {
              ports.set(change.port.portName, change.port);
              model.setPort(change.port);
            } else {
              ports.delete(change.portName);
              model.removePort(change.portName);
            }
            if (step % every === 0) model.takeDelta();
          });
          const full = compileRouterRuleset({
            table: 'sgpods',
            groups: [...groups.values()],
            ports: [...ports.values()],
          });
          expect(comparable(model.ruleset())).toEqual(comparable(full));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes nothing when nothing changed, and only the changed part otherwise', () => {
    const model = new IncrementalRuleset('sgpods');
    const [first] = fc.sample(groupArb, { numRuns: 1, seed: 1 });
    model.putGroup(first!);
    expect(model.takeDelta()).not.toBe('');
    expect(model.takeDelta()).toBe('');
    model.setPort({
      portName: 'p9',
      kind: 'eni',
      addresses: [parseIpAddress('10.9.9.9')!],
      groupIds: [first!.groupId],
      sourceDestCheck: true,
    });
    const delta = model.takeDelta();
    expect(
      delta
        .split('\n')
        .filter(Boolean)
        .every(
          (line) => line.includes('p9') || line.includes('members_4') || line.includes('src_ok_4'),
        ),
    ).toBe(true);
  });
});
