import { describe, expect, it } from 'vitest';
import { Ec2RequestError } from '../errors.js';
import { assertGroupsPerInterface, countRules } from './quota.js';
import { normalizeRule, type RuleSpec, type SecurityGroupRule } from './rule.js';
import { defaultGroupRules, newGroupRules, planAuthorize } from './security-group.js';

const groupId = 'sg-0123456789abcdef0';
const ingress = (spec: RuleSpec): SecurityGroupRule => normalizeRule(groupId, 'ingress', spec);
const egress = (spec: RuleSpec): SecurityGroupRule => normalizeRule(groupId, 'egress', spec);

function errorOf(run: () => unknown): Ec2RequestError {
  try {
    run();
  } catch (error) {
    if (error instanceof Ec2RequestError) return error;
    throw error;
  }
  throw new Error('expected an Ec2RequestError');
}

describe('new and default groups', () => {
  it('a new group has no ingress and one IPv4 all-traffic egress rule', () => {
    const rules = newGroupRules(groupId);
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({
      direction: 'egress',
      protocol: 'all',
      peer: { cidr: { text: '0.0.0.0/0' } },
    });
  });

  it('the default group admits itself, and gets ::/0 egress only with an IPv6 VPC', () => {
    expect(defaultGroupRules(groupId, false).map((r) => r.direction)).toEqual([
      'ingress',
      'egress',
    ]);
    expect(defaultGroupRules(groupId, true)).toHaveLength(3);
    expect(defaultGroupRules(groupId, false)[0]?.peer).toEqual({ kind: 'group', groupId });
  });
});

describe('planAuthorize', () => {
  it('rejects a rule that exists, description aside, with EC2 wording', () => {
    const existing = [
      ingress({
        protocol: 'tcp',
        fromPort: 53,
        toPort: 53,
        referencedGroupId: 'sg-00000000000000001',
        description: 'dns',
      }),
    ];
    const error = errorOf(() =>
      planAuthorize(existing, [
        ingress({
          protocol: 'tcp',
          fromPort: 53,
          toPort: 53,
          referencedGroupId: 'sg-00000000000000001',
        }),
      ]),
    );
    expect(error.awsCode).toBe('InvalidPermission.Duplicate');
    expect(error.message).toBe(
      'the specified rule "peer: sg-00000000000000001, TCP, from port: 53, to port: 53, ALLOW" already exists',
    );
  });

  it('treats the non-canonical form of an existing CIDR as a duplicate', () => {
    const existing = [
      ingress({ protocol: 'tcp', fromPort: 1, toPort: 1, cidrIpv4: '100.68.0.0/18' }),
    ];
    const error = errorOf(() =>
      planAuthorize(existing, [
        ingress({ protocol: 'tcp', fromPort: 1, toPort: 1, cidrIpv4: '100.68.0.18/18' }),
      ]),
    );
    expect(error.awsCode).toBe('InvalidPermission.Duplicate');
  });

  it('the all-traffic egress of a new group is a duplicate of itself', () => {
    const error = errorOf(() =>
      planAuthorize(newGroupRules(groupId), [egress({ protocol: '-1', cidrIpv4: '0.0.0.0/0' })]),
    );
    expect(error.message).toBe('the specified rule "peer: 0.0.0.0/0, ALL, ALLOW" already exists');
  });

  it('rejects duplicates within one request and adds nothing', () => {
    const rule = ingress({ protocol: 'udp', fromPort: 53, toPort: 53, cidrIpv4: '10.0.0.0/8' });
    expect(errorOf(() => planAuthorize([], [rule, rule])).awsCode).toBe(
      'InvalidPermission.Duplicate',
    );
  });

  it('allows the same traffic in the other direction or from another peer', () => {
    const existing = [
      ingress({ protocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: '10.0.0.0/8' }),
    ];
    const adding = [
      egress({ protocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: '10.0.0.0/8' }),
      ingress({ protocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: '10.0.0.0/9' }),
    ];
    expect(planAuthorize(existing, adding)).toHaveLength(2);
  });

  const many = (count: number, make: (i: number) => SecurityGroupRule) =>
    Array.from({ length: count }, (_, i) => make(i));

  it('counts the quota per direction and per family: 60 IPv4 + 60 IPv6 inbound fit', () => {
    const v4 = many(60, (i) =>
      ingress({ protocol: 'tcp', fromPort: i, toPort: i, cidrIpv4: '10.0.0.0/8' }),
    );
    const v6 = many(60, (i) =>
      ingress({ protocol: 'tcp', fromPort: i, toPort: i, cidrIpv6: '::/0' }),
    );
    const out = many(60, (i) =>
      egress({ protocol: 'tcp', fromPort: i, toPort: i, cidrIpv4: '10.0.0.0/8' }),
    );
    expect(planAuthorize([], [...v4, ...v6, ...out])).toHaveLength(180);
    const error = errorOf(() =>
      planAuthorize(
        [...v4, ...v6],
        [ingress({ protocol: 'udp', fromPort: 1, toPort: 1, cidrIpv4: '10.0.0.0/8' })],
      ),
    );
    expect(error.awsCode).toBe('RulesPerSecurityGroupLimitExceeded');
  });

  it('counts a group reference in both families and a prefix list by its max entries', () => {
    const rules = [
      ingress({ protocol: '-1', referencedGroupId: 'sg-00000000000000001' }),
      ingress({ protocol: '-1', prefixListId: 'pl-00000000000000001' }),
    ];
    const counts = countRules(
      rules,
      new Map([['pl-00000000000000001', { family: 4, maxEntries: 10 }]]),
    );
    expect(counts.ingress).toEqual({ v4: 11, v6: 1 });
    expect(counts.egress).toEqual({ v4: 0, v6: 0 });
    const heavy = new Map([['pl-00000000000000001', { family: 4 as const, maxEntries: 60 }]]);
    expect(errorOf(() => planAuthorize([], rules, { prefixLists: heavy })).awsCode).toBe(
      'RulesPerSecurityGroupLimitExceeded',
    );
  });

  it('limits groups per interface', () => {
    expect(() => assertGroupsPerInterface(5)).not.toThrow();
    expect(errorOf(() => assertGroupsPerInterface(6)).awsCode).toBe(
      'SecurityGroupsPerInterfaceLimitExceeded',
    );
    expect(() => assertGroupsPerInterface(16, 16)).not.toThrow();
  });
});
