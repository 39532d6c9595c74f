import { describe, expect, it } from 'vitest';
import { buildCaseWorld, caseFlow } from '../../../test/conformance/build-case-world.js';
import { securityGroupCases } from '../../../test/conformance/security-group-cases.js';
import { InputError } from '../errors.js';
import { parseIpAddress } from '../net/ip-address.js';
import { evaluateFlow } from './evaluator.js';
import { normalizeRule, type RuleSpec, type SecurityGroupRule } from './rule.js';
import { newGroupRules } from './security-group.js';
import { World } from './world.js';

const rows = securityGroupCases.flatMap((testCase) =>
  testCase.checks.map((check, index) => ({
    testCase,
    check,
    name: `${testCase.id} ${testCase.title} [${index}]`,
  })),
);

describe('evaluator on the shared conformance table', () => {
  it.each(rows)('$name', ({ testCase, check }) => {
    const world = buildCaseWorld(testCase);
    const result = evaluateFlow(world, caseFlow(check));
    expect(result.verdict).toBe(check.expect);
    if (check.tracking) {
      const gate = result.ingress.decision === 'allow' ? result.ingress : result.egress;
      expect(gate.tracking).toBe(check.tracking);
    }
  });
});

describe('evaluator explanations', () => {
  const p1 = securityGroupCases.find((c) => c.id === 'P1/P2')!;

  it('names the deciding rule of each gate', () => {
    const world = buildCaseWorld(p1);
    const result = evaluateFlow(world, caseFlow(p1.checks[1]!));
    expect(result.egress.decision).toBe('allow');
    expect(result.egress.allowedBy[0]?.protocol).toBe('all');
    expect(result.ingress.allowedBy).toHaveLength(1);
    expect(result.ingress.allowedBy[0]?.peer).toEqual({
      kind: 'group',
      groupId: expect.stringMatching(/^sg-/),
    });
  });

  it('reports the failing gate and near misses when denied', () => {
    const s2 = securityGroupCases.find((c) => c.id === 'S2')!;
    const world = buildCaseWorld(s2);
    const byPeer = evaluateFlow(world, caseFlow(s2.checks[2]!));
    expect(byPeer.egress.decision).toBe('allow');
    expect(byPeer.ingress.decision).toBe('deny');
    expect(byPeer.ingress.reason).toBe('no-rule-matched');
    expect(byPeer.ingress.nearMisses.map((miss) => miss.mismatch)).toEqual(['peer']);
    const byPort = evaluateFlow(world, caseFlow(s2.checks[4]!));
    expect(byPort.ingress.nearMisses.map((miss) => miss.mismatch)).toEqual(['port']);
  });

  it('treats an address on no interface as an outside host', () => {
    const s1 = securityGroupCases.find((c) => c.id === 'S1')!;
    const result = evaluateFlow(buildCaseWorld(s1), caseFlow(s1.checks[0]!));
    expect(result.egress.decision).toBe('not-applicable');
    expect(result.egress.reason).toBe('outside-host');
  });

  it('does not gate traffic that stays on one interface', () => {
    const s2 = securityGroupCases.find((c) => c.id === 'S2')!;
    const world = buildCaseWorld(s2);
    const result = evaluateFlow(world, {
      source: parseIpAddress('10.0.1.10')!,
      destination: parseIpAddress('10.0.1.11')!,
      protocol: 6,
      port: 22,
    });
    expect(result.verdict).toBe('allow');
    expect(result.ingress.reason).toBe('same-interface');
  });

  it('rejects flows it cannot place, mixed families and missing ports', () => {
    const world = new World({ groups: [], networkInterfaces: [] });
    const a = parseIpAddress('10.0.0.1')!;
    const b = parseIpAddress('10.0.0.2')!;
    expect(() => evaluateFlow(world, { source: a, destination: b, protocol: 'all' })).toThrow(
      InputError,
    );
    const s2 = buildCaseWorld(securityGroupCases.find((c) => c.id === 'S2')!);
    const b6 = parseIpAddress('2001:db8:1:2::b')!;
    const a4 = parseIpAddress('10.0.1.10')!;
    expect(() => evaluateFlow(s2, { source: a4, destination: b6, protocol: 'all' })).toThrow(
      /different IP families/,
    );
    expect(() =>
      evaluateFlow(s2, { source: a4, destination: parseIpAddress('10.0.2.20')!, protocol: 6 }),
    ).toThrow(/port/);
  });

  it('reports groups and prefix lists it does not know', () => {
    const world = new World({
      groups: [],
      networkInterfaces: [
        {
          networkInterfaceId: 'eni-1',
          addresses: [parseIpAddress('10.0.0.1')!],
          groupIds: ['sg-0000000000000000f'],
        },
      ],
    });
    const result = evaluateFlow(world, {
      source: parseIpAddress('10.9.0.1')!,
      destination: parseIpAddress('10.0.0.1')!,
      protocol: 6,
      port: 1,
    });
    expect(result.verdict).toBe('deny');
    expect(result.ingress.unknownGroupIds).toEqual(['sg-0000000000000000f']);
  });

  it('refuses an address on two interfaces', () => {
    const address = parseIpAddress('10.0.0.1')!;
    expect(
      () =>
        new World({
          groups: [],
          networkInterfaces: [
            { networkInterfaceId: 'eni-1', addresses: [address], groupIds: [] },
            { networkInterfaceId: 'eni-2', addresses: [address], groupIds: [] },
          ],
        }),
    ).toThrow(/on both eni-1 and eni-2/);
  });
});

describe('all-traffic questions without a -1 rule', () => {
  const a = parseIpAddress('10.0.1.10')!;
  const b = parseIpAddress('10.0.2.20')!;
  const everyProtocol = (tcpRanges: [number, number][], icmpTypes: 'all' | number[]) => {
    const groupId = 'sg-0000000000000000b';
    const rules: SecurityGroupRule[] = [];
    const add = (spec: RuleSpec) =>
      rules.push(normalizeRule(groupId, 'ingress', { ...spec, cidrIpv4: '10.0.0.0/8' }));
    for (const [fromPort, toPort] of tcpRanges) add({ protocol: 'tcp', fromPort, toPort });
    add({ protocol: 'udp', fromPort: 0, toPort: 65535 });
    if (icmpTypes === 'all') add({ protocol: 'icmp', fromPort: -1, toPort: -1 });
    else for (const type of icmpTypes) add({ protocol: 'icmp', fromPort: type, toPort: -1 });
    add({ protocol: 'icmpv6' });
    for (let protocol = 0; protocol <= 255; protocol++) {
      if (![1, 6, 17, 58].includes(protocol)) add({ protocol: String(protocol) });
    }
    return new World({
      groups: [
        { groupId, groupName: 'b', rules },
        {
          groupId: 'sg-0000000000000000a',
          groupName: 'a',
          rules: newGroupRules('sg-0000000000000000a'),
        },
      ],
      networkInterfaces: [
        { networkInterfaceId: 'eni-a', addresses: [a], groupIds: ['sg-0000000000000000a'] },
        { networkInterfaceId: 'eni-b', addresses: [b], groupIds: [groupId] },
      ],
    });
  };
  const allTypes = Array.from({ length: 256 }, (_, type) => type);
  const ask = (world: World) =>
    evaluateFlow(world, { source: a, destination: b, protocol: 'all' }).verdict;

  it('is allowed when the rules together cover every protocol, port and ICMP type', () => {
    expect(
      ask(
        everyProtocol(
          [
            [0, 1000],
            [1001, 65535],
          ],
          'all',
        ),
      ),
    ).toBe('allow');
    expect(
      ask(
        everyProtocol(
          [
            [0, 40000],
            [20000, 65535],
          ],
          allTypes,
        ),
      ),
    ).toBe('allow');
  });

  it('is denied by a single uncovered port or ICMP type', () => {
    expect(
      ask(
        everyProtocol(
          [
            [0, 1000],
            [1002, 65535],
          ],
          'all',
        ),
      ),
    ).toBe('deny');
    expect(ask(everyProtocol([[0, 65534]], 'all'))).toBe('deny');
    expect(ask(everyProtocol([[1, 65535]], 'all'))).toBe('deny');
    expect(ask(everyProtocol([[0, 65535]], allTypes.slice(1)))).toBe('deny');
  });
});
