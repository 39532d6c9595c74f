/**
 * EC2 security-group quotas (VPC user guide, "Amazon VPC quotas"): rules are counted per group,
 * per direction, and separately for IPv4 and IPv6. A CIDR counts once in its family; a group
 * reference counts once in each family; a prefix list counts its maximum entries in its family.
 */
import { Ec2RequestError } from '../errors.js';
import type { Direction, SecurityGroupRule } from './rule.js';

export const defaultQuotas = {
  securityGroupsPerRegion: 2500,
  rulesPerSecurityGroupPerDirection: 60,
  securityGroupsPerNetworkInterface: 5,
  maxSecurityGroupsPerNetworkInterface: 16,
  /** rules-per-group × groups-per-interface may not exceed this. */
  rulesTimesGroupsPerInterface: 1000,
} as const;

export interface PrefixListWeight {
  readonly family: 4 | 6;
  readonly maxEntries: number;
}

export type RuleCounts = Record<Direction, { v4: number; v6: number }>;

export function countRules(
  rules: Iterable<SecurityGroupRule>,
  prefixLists: ReadonlyMap<string, PrefixListWeight> = new Map(),
): RuleCounts {
  const counts: RuleCounts = { ingress: { v4: 0, v6: 0 }, egress: { v4: 0, v6: 0 } };
  for (const rule of rules) {
    const count = counts[rule.direction];
    const peer = rule.peer;
    if (peer.kind === 'cidr') {
      count[peer.cidr.family === 4 ? 'v4' : 'v6'] += 1;
    } else if (peer.kind === 'group') {
      count.v4 += 1;
      count.v6 += 1;
    } else {
      const weight = prefixLists.get(peer.prefixListId);
      const entries = weight?.maxEntries ?? 1;
      if (weight?.family !== 6) count.v4 += entries;
      if (weight?.family !== 4) count.v6 += entries;
    }
  }
  return counts;
}

/** Throws `RulesPerSecurityGroupLimitExceeded` when any direction/family exceeds `limit`. */
export function assertWithinRuleQuota(
  rules: Iterable<SecurityGroupRule>,
  limit: number = defaultQuotas.rulesPerSecurityGroupPerDirection,
  prefixLists?: ReadonlyMap<string, PrefixListWeight>,
): void {
  const counts = countRules(rules, prefixLists);
  const over = [counts.ingress.v4, counts.ingress.v6, counts.egress.v4, counts.egress.v6].some(
    (count) => count > limit,
  );
  if (over) {
    throw new Ec2RequestError(
      'RulesPerSecurityGroupLimitExceeded',
      'The maximum number of rules per security group has been reached.',
    );
  }
}

/** Throws `SecurityGroupsPerInterfaceLimitExceeded` for too many groups on one interface. */
export function assertGroupsPerInterface(
  groupCount: number,
  limit: number = defaultQuotas.securityGroupsPerNetworkInterface,
): void {
  if (groupCount > limit) {
    throw new Ec2RequestError(
      'SecurityGroupsPerInterfaceLimitExceeded',
      'The maximum number of security groups per interface has been reached.',
    );
  }
}
