/**
 * EC2's `IpPermission` at the wire edge. Requests carry permissions (one protocol and port range,
 * several peers) as `IpPermissions.N.*` or, in the legacy form, as top-level `IpProtocol`,
 * `CidrIp`, `SourceSecurityGroupName`…; each peer becomes one rule. Responses render rules back
 * either as permissions (DescribeSecurityGroups groups rules of the same traffic) or one item per
 * rule (`securityGroupRuleSet`).
 */
import { Ec2RequestError } from '../../../core/errors.js';
import type { RuleSpec } from '../../../core/sg/rule.js';
import type { XmlValue } from '../query/ec2-xml.js';
import type { QueryParams } from '../query/query-params.js';
import { portedProtocols, type RuleRow, type TagRow } from '../state/ec2-store.js';
import { arnOf, type Ec2Context } from './ec2-context.js';
import { tagSetXml } from './tags.js';

/** A peer named by group name (resolved against the group's VPC by the caller). */
export interface PermissionSpec extends RuleSpec {
  readonly referencedGroupName?: string;
}

function portsOf(params: QueryParams, prefix: string): Pick<RuleSpec, 'fromPort' | 'toPort'> {
  const fromPort = params.integer(`${prefix}FromPort`);
  const toPort = params.integer(`${prefix}ToPort`);
  return {
    ...(fromPort === undefined ? {} : { fromPort }),
    ...(toPort === undefined ? {} : { toPort }),
  };
}

function items(
  params: QueryParams,
  prefix: string,
  fields: readonly string[],
): Record<string, string>[] {
  const found: Record<string, string>[] = [];
  for (let index = 1; ; index++) {
    const item: Record<string, string> = {};
    for (const field of fields) {
      const value = params.get(`${prefix}.${index}.${field}`);
      if (value !== undefined) item[field] = value;
    }
    if (Object.keys(item).length === 0) return found;
    found.push(item);
  }
}

function withDescription(spec: PermissionSpec, description: string | undefined): PermissionSpec {
  return description === undefined ? spec : { ...spec, description };
}

function permissionSpecs(params: QueryParams, prefix: string): PermissionSpec[] {
  const protocol = params.get(`${prefix}IpProtocol`);
  if (protocol === undefined) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      "Invalid value 'null' for protocol. VPC security group rules must specify protocols explicitly.",
    );
  }
  const traffic = { protocol, ...portsOf(params, prefix) };
  const specs: PermissionSpec[] = [];
  for (const range of items(params, `${prefix}IpRanges`, ['CidrIp', 'Description'])) {
    specs.push(withDescription({ ...traffic, cidrIpv4: range.CidrIp ?? '' }, range.Description));
  }
  for (const range of items(params, `${prefix}Ipv6Ranges`, ['CidrIpv6', 'Description'])) {
    specs.push(withDescription({ ...traffic, cidrIpv6: range.CidrIpv6 ?? '' }, range.Description));
  }
  for (const list of items(params, `${prefix}PrefixListIds`, ['PrefixListId', 'Description'])) {
    specs.push(
      withDescription({ ...traffic, prefixListId: list.PrefixListId ?? '' }, list.Description),
    );
  }
  const pairFields = [
    'GroupId',
    'GroupName',
    'UserId',
    'Description',
    'VpcId',
    'VpcPeeringConnectionId',
  ];
  for (const pair of items(params, `${prefix}Groups`, pairFields)) {
    const peer =
      pair.GroupId !== undefined
        ? { referencedGroupId: pair.GroupId }
        : pair.GroupName !== undefined
          ? { referencedGroupName: pair.GroupName }
          : undefined;
    if (!peer) {
      throw new Ec2RequestError(
        'MissingParameter',
        'The request must contain the parameter groupId or groupName for each user ID group pair',
      );
    }
    specs.push(withDescription({ ...traffic, ...peer }, pair.Description));
  }
  if (specs.length === 0) {
    // A permission without any peer would allow nothing: EC2 calls it malformed.
    throw new Ec2RequestError(
      'InvalidPermission.Malformed',
      'The specified security group rule is malformed: it names no CIDR, IPv6 CIDR, prefix list or security group.',
    );
  }
  return specs;
}

function legacySpecs(params: QueryParams): PermissionSpec[] {
  const protocol = params.get('IpProtocol');
  const cidr = params.get('CidrIp');
  const sourceName = params.get('SourceSecurityGroupName');
  if (protocol === undefined && cidr === undefined && sourceName === undefined) return [];
  const traffic = { protocol: protocol ?? '-1', ...portsOf(params, '') };
  if (cidr !== undefined) return [{ ...traffic, cidrIpv4: cidr }];
  if (sourceName !== undefined) {
    // EC2: a source group by name allows all traffic unless a protocol is given.
    return [{ ...traffic, referencedGroupName: sourceName }];
  }
  throw new Ec2RequestError(
    'MissingParameter',
    'The request must contain the parameter CidrIp or SourceSecurityGroupName',
  );
}

/** Every rule a request's permissions (or legacy parameters) state, one per peer. */
export function ruleSpecsOf(params: QueryParams): PermissionSpec[] {
  const specs: PermissionSpec[] = [];
  for (let index = 1; params.has(`IpPermissions.${index}.`); index++) {
    specs.push(...permissionSpecs(params, `IpPermissions.${index}.`));
  }
  specs.push(...legacySpecs(params));
  return specs;
}

/** `ipPermissions` / `ipPermissionsEgress` items: rules sharing traffic grouped, as EC2 does. */
export function permissionsXml(rules: readonly RuleRow[], ownerId: string): XmlValue[] {
  const byTraffic = new Map<string, { traffic: RuleRow; rules: RuleRow[] }>();
  for (const rule of rules) {
    const key = `${rule.ipProtocol}|${rule.fromPort}|${rule.toPort}`;
    const entry = byTraffic.get(key) ?? { traffic: rule, rules: [] };
    entry.rules.push(rule);
    byTraffic.set(key, entry);
  }
  return [...byTraffic.values()].map(({ traffic, rules: members }) => {
    const ported = portedProtocols.has(traffic.ipProtocol);
    const pick = (field: keyof RuleRow) => members.filter((rule) => rule[field] !== undefined);
    return {
      ipProtocol: traffic.ipProtocol,
      fromPort: ported ? traffic.fromPort : undefined,
      toPort: ported ? traffic.toPort : undefined,
      groups: pick('referencedGroupId').map((rule) => ({
        description: rule.description,
        userId: ownerId,
        groupId: rule.referencedGroupId,
      })),
      ipRanges: pick('cidrIpv4').map((rule) => ({
        cidrIp: rule.cidrIpv4,
        description: rule.description,
      })),
      ipv6Ranges: pick('cidrIpv6').map((rule) => ({
        cidrIpv6: rule.cidrIpv6,
        description: rule.description,
      })),
      prefixListIds: pick('prefixListId').map((rule) => ({
        prefixListId: rule.prefixListId,
        description: rule.description,
      })),
    };
  });
}

/** What a rule matches, as both rule lists render it. */
function matchXml(rule: RuleRow): Record<string, XmlValue> {
  return {
    securityGroupRuleId: rule.ruleId,
    groupId: rule.groupId,
    isEgress: rule.isEgress,
    ipProtocol: rule.ipProtocol,
    fromPort: rule.fromPort,
    toPort: rule.toPort,
    cidrIpv4: rule.cidrIpv4,
    cidrIpv6: rule.cidrIpv6,
    prefixListId: rule.prefixListId,
    description: rule.description,
  };
}

/** One `securityGroupRuleSet` item (Authorize and DescribeSecurityGroupRules). */
export function ruleXml(rule: RuleRow, tags: readonly TagRow[], context: Ec2Context): XmlValue {
  return {
    ...matchXml(rule),
    groupOwnerId: context.accountId,
    referencedGroupInfo:
      rule.referencedGroupId === undefined
        ? undefined
        : { groupId: rule.referencedGroupId, userId: context.accountId },
    tagSet: tagSetXml(tags) ?? [],
    securityGroupRuleArn: arnOf(context, 'security-group-rule', rule.ruleId),
  };
}

/** One `revokedSecurityGroupRuleSet` item: the group reference is a plain id here. */
export function revokedRuleXml(rule: RuleRow): XmlValue {
  return { ...matchXml(rule), referencedGroupId: rule.referencedGroupId };
}
