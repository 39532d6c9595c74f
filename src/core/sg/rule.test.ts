import { describe, expect, it } from 'vitest';
import { Ec2RequestError } from '../errors.js';
import { formatProtocol, parseProtocol } from './protocol.js';
import { formatRuleTraffic, normalizeRule, ruleKey, type RuleSpec } from './rule.js';

const groupId = 'sg-0123456789abcdef0';

function awsCodeOf(spec: RuleSpec): string | undefined {
  try {
    normalizeRule(groupId, 'ingress', spec);
    return undefined;
  } catch (error) {
    if (error instanceof Ec2RequestError) return error.awsCode;
    throw error;
  }
}

describe('protocols', () => {
  it.each([
    ['tcp', 6],
    ['TCP', 6],
    ['6', 6],
    ['udp', 17],
    ['icmp', 1],
    ['icmpv6', 58],
    ['58', 58],
    ['47', 47],
    ['0', 0],
    ['255', 255],
    ['-1', 'all'],
  ])('%s -> %s', (text, expected) => {
    expect(parseProtocol(text)).toBe(expected);
  });

  it.each(['256', 'all', 'gre', '', '-2', '1.5'])(
    'rejects %s with InvalidParameterValue',
    (text) => {
      expect(() => parseProtocol(text)).toThrow(/Unknown protocol/);
    },
  );

  it('prints names for tcp/udp/icmp/icmpv6, -1 for all, else the number', () => {
    expect([6, 17, 1, 58, 47, 'all' as const].map(formatProtocol)).toEqual([
      'tcp',
      'udp',
      'icmp',
      'icmpv6',
      '47',
      '-1',
    ]);
  });
});

describe('rule normalisation', () => {
  it('resolves aliases once: "6" and "tcp" are the same rule', () => {
    const a = normalizeRule(groupId, 'ingress', {
      protocol: '6',
      fromPort: 22,
      toPort: 22,
      cidrIpv4: '10.0.0.0/8',
    });
    const b = normalizeRule(groupId, 'ingress', {
      protocol: 'tcp',
      fromPort: 22,
      toPort: 22,
      cidrIpv4: '10.0.0.0/8',
    });
    expect(ruleKey(a)).toBe(ruleKey(b));
  });

  it('canonicalises CIDRs (a non-canonical form is the same rule)', () => {
    const a = normalizeRule(groupId, 'ingress', {
      protocol: 'tcp',
      fromPort: 1,
      toPort: 1,
      cidrIpv4: '100.68.0.18/18',
    });
    expect(a.peer).toMatchObject({ kind: 'cidr', cidr: { text: '100.68.0.0/18' } });
  });

  it('ignores ports for -1 and numbered protocols; icmpv6 without ports is every type', () => {
    expect(
      normalizeRule(groupId, 'ingress', {
        protocol: '-1',
        fromPort: 5,
        toPort: 9,
        cidrIpv4: '0.0.0.0/0',
      }).ports,
    ).toEqual({ kind: 'all' });
    expect(
      normalizeRule(groupId, 'ingress', {
        protocol: '47',
        fromPort: 5,
        toPort: 9,
        cidrIpv4: '0.0.0.0/0',
      }).ports,
    ).toEqual({ kind: 'all' });
    expect(
      normalizeRule(groupId, 'ingress', { protocol: 'icmpv6', cidrIpv6: '::/0' }).ports,
    ).toEqual({ kind: 'icmp', type: -1, code: -1 });
    expect(
      normalizeRule(groupId, 'ingress', {
        protocol: 'icmp',
        fromPort: -1,
        toPort: 4,
        cidrIpv4: '0.0.0.0/0',
      }).ports,
    ).toEqual({ kind: 'icmp', type: -1, code: -1 });
  });

  it.each<[string, RuleSpec, string]>([
    ['tcp without ports', { protocol: 'tcp', cidrIpv4: '0.0.0.0/0' }, 'InvalidParameterValue'],
    [
      'tcp with one port',
      { protocol: 'tcp', fromPort: 1, cidrIpv4: '0.0.0.0/0' },
      'InvalidParameterValue',
    ],
    [
      'port above 65535',
      { protocol: 'udp', fromPort: 1, toPort: 65536, cidrIpv4: '0.0.0.0/0' },
      'InvalidParameterValue',
    ],
    [
      'negative port',
      { protocol: 'udp', fromPort: -1, toPort: -1, cidrIpv4: '0.0.0.0/0' },
      'InvalidParameterValue',
    ],
    [
      'from above to',
      { protocol: 'tcp', fromPort: 90, toPort: 80, cidrIpv4: '0.0.0.0/0' },
      'InvalidParameterValue',
    ],
    ['icmp without type', { protocol: 'icmp', cidrIpv4: '0.0.0.0/0' }, 'InvalidParameterValue'],
    [
      'icmp type 256',
      { protocol: 'icmp', fromPort: 256, toPort: 0, cidrIpv4: '0.0.0.0/0' },
      'InvalidParameterValue',
    ],
    ['bad CIDR', { protocol: '-1', cidrIpv4: '10.0.0.0/33' }, 'InvalidParameterValue'],
    ['IPv6 CIDR as IPv4', { protocol: '-1', cidrIpv4: '::/0' }, 'InvalidParameterValue'],
    ['IPv4 CIDR as IPv6', { protocol: '-1', cidrIpv6: '10.0.0.0/8' }, 'InvalidParameterValue'],
    ['no peer', { protocol: '-1' }, 'MissingParameter'],
    [
      'two peers',
      { protocol: '-1', cidrIpv4: '0.0.0.0/0', referencedGroupId: groupId },
      'InvalidParameterCombination',
    ],
    ['bad group id', { protocol: '-1', referencedGroupId: 'sg-xyz' }, 'InvalidGroupId.Malformed'],
    [
      'bad prefix list id',
      { protocol: '-1', prefixListId: 'pl-' },
      'InvalidPrefixListId.Malformed',
    ],
    ['bad protocol', { protocol: 'tcpp', cidrIpv4: '0.0.0.0/0' }, 'InvalidParameterValue'],
    [
      'bad description',
      { protocol: '-1', cidrIpv4: '0.0.0.0/0', description: 'naïve' },
      'InvalidParameterValue',
    ],
  ])('%s -> %s', (_name, spec, code) => {
    expect(awsCodeOf(spec)).toBe(code);
  });

  it('describes traffic for people', () => {
    const rule = (spec: RuleSpec) =>
      formatRuleTraffic(normalizeRule(groupId, 'ingress', { cidrIpv4: '0.0.0.0/0', ...spec }));
    expect(rule({ protocol: 'tcp', fromPort: 5432, toPort: 5432 })).toBe('tcp 5432');
    expect(rule({ protocol: 'udp', fromPort: 1000, toPort: 2000 })).toBe('udp 1000-2000');
    expect(rule({ protocol: '-1' })).toBe('all traffic');
    expect(rule({ protocol: '47' })).toBe('47 all ports');
    expect(rule({ protocol: 'icmp', fromPort: 8, toPort: -1 })).toBe('icmp type 8 code any');
  });
});
