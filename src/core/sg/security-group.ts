/**
 * Security groups: the rule lists of one group, the rules a new or default group starts with,
 * and planning an Authorize (duplicates and quotas) as EC2 checks it.
 */
import { Ec2RequestError } from '../errors.js';
import { parseCidr, type Cidr } from '../net/ip-address.js';
import { assertWithinRuleQuota, type PrefixListWeight } from './quota.js';
import { formatRuleForMessage, ruleKey, type SecurityGroupRule } from './rule.js';

export interface SecurityGroup {
  readonly groupId: string;
  readonly groupName: string;
  readonly vpcId?: string;
  readonly rules: readonly SecurityGroupRule[];
}

function anyCidr(text: '0.0.0.0/0' | '::/0'): Cidr {
  const parsed = parseCidr(text);
  if (parsed === undefined) throw new RangeError(text);
  return parsed.cidr;
}

/** A new group (CreateSecurityGroup): no ingress, all traffic out to 0.0.0.0/0 (IPv4 only). */
export function newGroupRules(groupId: string): SecurityGroupRule[] {
  return [
    {
      groupId,
      direction: 'egress',
      protocol: 'all',
      ports: { kind: 'all' },
      peer: { kind: 'cidr', cidr: anyCidr('0.0.0.0/0') },
    },
  ];
}

/** A VPC's `default` group: all traffic in from itself, all out (and ::/0 when the VPC has IPv6). */
export function defaultGroupRules(groupId: string, vpcHasIpv6: boolean): SecurityGroupRule[] {
  const rules: SecurityGroupRule[] = [
    {
      groupId,
      direction: 'ingress',
      protocol: 'all',
      ports: { kind: 'all' },
      peer: { kind: 'group', groupId },
    },
    ...newGroupRules(groupId),
  ];
  if (vpcHasIpv6) {
    rules.push({
      groupId,
      direction: 'egress',
      protocol: 'all',
      ports: { kind: 'all' },
      peer: { kind: 'cidr', cidr: anyCidr('::/0') },
    });
  }
  return rules;
}

export interface AuthorizeOptions {
  readonly ruleLimit?: number;
  readonly prefixLists?: ReadonlyMap<string, PrefixListWeight>;
}

/**
 * Checks adding `adding` to `existing` as EC2 does: any rule already present (same traffic and
 * peer, description aside, CIDRs compared canonically) or repeated within the request is
 * `InvalidPermission.Duplicate`; going over the quota is `RulesPerSecurityGroupLimitExceeded`.
 * Nothing is added when either fails. Returns the rules to add.
 */
export function planAuthorize(
  existing: readonly SecurityGroupRule[],
  adding: readonly SecurityGroupRule[],
  options: AuthorizeOptions = {},
): readonly SecurityGroupRule[] {
  const seen = new Set(existing.map(ruleKey));
  for (const rule of adding) {
    const key = ruleKey(rule);
    if (seen.has(key)) {
      throw new Ec2RequestError(
        'InvalidPermission.Duplicate',
        `the specified rule "${formatRuleForMessage(rule)}" already exists`,
      );
    }
    seen.add(key);
  }
  assertWithinRuleQuota([...existing, ...adding], options.ruleLimit, options.prefixLists);
  return adding;
}
