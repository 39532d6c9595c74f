/**
 * The rules of a group: Authorize/Revoke Ingress/Egress (IpPermissions, legacy parameters, or
 * rule ids), DescribeSecurityGroupRules and ModifySecurityGroupRules. Every check runs before
 * anything is written, so a rejected call changes nothing (and the transaction backs that up).
 */
import { Ec2RequestError } from '../../../core/errors.js';
import { isResourceId } from '../../../core/sg/resource-ids.js';
import {
  normalizeRule,
  ruleKey,
  type Direction,
  type RuleSpec,
  type SecurityGroupRule,
} from '../../../core/sg/rule.js';
import { planAuthorize } from '../../../core/sg/security-group.js';
import type { XmlValue } from '../query/ec2-xml.js';
import type { QueryParams } from '../query/query-params.js';
import { ruleOfRow, type Ec2Store, type GroupRow, type RuleRow } from '../state/ec2-store.js';
import type { Ec2Context, Ec2Handler } from './ec2-context.js';
import { applyFilters, tagIndex, type FilterFields } from './filters.js';
import { revokedRuleXml, ruleSpecsOf, ruleXml, type PermissionSpec } from './ip-permissions.js';
import { paginate } from './pagination.js';
import { existingGroup, groupNameNotFound, malformedGroupId } from './security-groups.js';
import { applyTags, tagSpecificationsOf } from './tags.js';

function targetGroup(params: QueryParams, store: Ec2Store): GroupRow {
  const groupId = params.get('GroupId');
  if (groupId !== undefined) return existingGroup(store, groupId);
  const groupName = params.get('GroupName');
  if (groupName !== undefined) throw groupNameNotFound(groupName);
  throw new Ec2RequestError('MissingParameter', 'The request must contain the parameter groupId');
}

/** A rule of `group` from a request, with its peer checked to exist in the group's VPC. */
function resolveRule(
  store: Ec2Store,
  group: GroupRow,
  direction: Direction,
  spec: PermissionSpec,
): SecurityGroupRule {
  const { referencedGroupName, ...rest } = spec;
  let ruleSpec: RuleSpec = rest;
  if (referencedGroupName !== undefined) {
    const named = store.groupByName(group.vpcId, referencedGroupName);
    if (!named) {
      throw new Ec2RequestError(
        'InvalidGroup.NotFound',
        `The security group '${referencedGroupName}' does not exist in VPC '${group.vpcId}'`,
      );
    }
    ruleSpec = { ...rest, referencedGroupId: named.groupId };
  }
  const rule = normalizeRule(group.groupId, direction, ruleSpec);
  if (rule.peer.kind === 'group') {
    const peer = existingGroup(store, rule.peer.groupId);
    if (peer.vpcId !== group.vpcId) {
      throw new Ec2RequestError(
        'InvalidGroup.NotFound',
        'You have specified two resources that belong to different networks.',
      );
    }
  }
  if (rule.peer.kind === 'prefix-list' && !store.prefixList(rule.peer.prefixListId)) {
    throw new Ec2RequestError(
      'InvalidPrefixListID.NotFound',
      `The prefix list ID '${rule.peer.prefixListId}' does not exist`,
    );
  }
  return rule;
}

function ruleSetXml(rows: readonly RuleRow[], context: Ec2Context): XmlValue[] {
  return rows.map((row) => ruleXml(row, context.store.tagsOf(row.ruleId), context));
}

function authorize(direction: Direction): Ec2Handler {
  return (params, context) => {
    const { store } = context;
    const group = targetGroup(params, store);
    const specs = ruleSpecsOf(params);
    if (specs.length === 0) {
      throw new Ec2RequestError(
        'MissingParameter',
        'The request must contain the parameter ipPermissions',
      );
    }
    const adding = specs.map((spec) => resolveRule(store, group, direction, spec));
    const existing = store.rulesOf(group.groupId).map(ruleOfRow);
    planAuthorize(existing, adding, { prefixLists: store.prefixListWeights() });
    const tags = tagSpecificationsOf(params, 'security-group-rule');
    const rows = adding.map((rule) => store.insertRule(rule, context.newId('securityGroupRule')));
    for (const row of rows) applyTags(store, row.ruleId, tags);
    context.changes.groups.add(group.groupId);
    return { return: true, securityGroupRuleSet: ruleSetXml(rows, context) };
  };
}

function malformedRuleId(id: string): Ec2RequestError {
  return new Ec2RequestError(
    'InvalidSecurityGroupRuleId.Malformed',
    `Invalid id: "${id}" (expecting "sgr-...")`,
  );
}

function ruleNotFound(id: string): Ec2RequestError {
  return new Ec2RequestError(
    'InvalidSecurityGroupRuleId.NotFound',
    `The security group rule ID '${id}' does not exist`,
  );
}

function existingRule(store: Ec2Store, id: string, group?: GroupRow): RuleRow {
  if (!isResourceId('securityGroupRule', id)) throw malformedRuleId(id);
  const row = store.rule(id);
  if (!row || (group && row.groupId !== group.groupId)) throw ruleNotFound(id);
  return row;
}

function rulesToRevoke(
  params: QueryParams,
  store: Ec2Store,
  group: GroupRow,
  direction: Direction,
): RuleRow[] {
  const egress = direction === 'egress';
  const ids = params.list('SecurityGroupRuleId');
  if (ids.length > 0) {
    return ids.map((id) => {
      const row = existingRule(store, id, group);
      if (row.isEgress !== egress) throw ruleNotFound(id);
      return row;
    });
  }
  const specs = ruleSpecsOf(params);
  if (specs.length === 0) {
    throw new Ec2RequestError(
      'MissingParameter',
      'The request must contain the parameter ipPermissions or securityGroupRuleIds',
    );
  }
  const byKey = new Map(
    store.rulesOf(group.groupId).map((row) => [ruleKey(ruleOfRow(row)), row] as const),
  );
  const rows = new Map<string, RuleRow>();
  for (const spec of specs) {
    const row = byKey.get(ruleKey(resolveRule(store, group, direction, spec)));
    if (!row) {
      throw new Ec2RequestError(
        'InvalidPermission.NotFound',
        'The specified rule does not exist in this security group.',
      );
    }
    rows.set(row.ruleId, row);
  }
  return [...rows.values()];
}

function revoke(direction: Direction): Ec2Handler {
  return (params, context) => {
    const { store } = context;
    const group = targetGroup(params, store);
    const rows = rulesToRevoke(params, store, group, direction);
    for (const row of rows) store.deleteRule(row.ruleId);
    context.changes.groups.add(group.groupId);
    return { return: true, revokedSecurityGroupRuleSet: rows.map(revokedRuleXml) };
  };
}

export const authorizeSecurityGroupIngress = authorize('ingress');
export const authorizeSecurityGroupEgress = authorize('egress');
export const revokeSecurityGroupIngress = revoke('ingress');
export const revokeSecurityGroupEgress = revoke('egress');

const ruleFilterFields: FilterFields<RuleRow> = {
  'group-id': (rule) => rule.groupId,
  'security-group-rule-id': (rule) => rule.ruleId,
};

export function describeSecurityGroupRules(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const ids = params.list('SecurityGroupRuleId');
  for (const id of ids) existingRule(store, id);
  const filters = params.filters();
  for (const filter of filters) {
    if (filter.name !== 'group-id') continue;
    for (const value of filter.values) {
      if (!/[*?]/.test(value) && !isResourceId('securityGroup', value))
        throw malformedGroupId(value);
    }
  }
  const wanted = new Set(ids);
  const rules = store.rules().filter((rule) => wanted.size === 0 || wanted.has(rule.ruleId));
  const tags = tagIndex(store.tags());
  const matching = applyFilters(rules, filters, ruleFilterFields, (rule) => tags(rule.ruleId));
  const page = paginate(matching, params, { min: 5, max: 1000 });
  return {
    securityGroupRuleSet: page.items.map((row) => ruleXml(row, tags(row.ruleId), context)),
    nextToken: page.nextToken,
  };
}

function modificationSpec(params: QueryParams, prefix: string): RuleSpec {
  const protocol = params.get(`${prefix}IpProtocol`);
  if (protocol === undefined) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Invalid value 'null' for protocol. VPC security group rules must specify protocols explicitly.`,
    );
  }
  const spec: Record<string, string | number> = { protocol };
  const fromPort = params.integer(`${prefix}FromPort`);
  const toPort = params.integer(`${prefix}ToPort`);
  if (fromPort !== undefined) spec.fromPort = fromPort;
  if (toPort !== undefined) spec.toPort = toPort;
  const fields = [
    ['CidrIpv4', 'cidrIpv4'],
    ['CidrIpv6', 'cidrIpv6'],
    ['PrefixListId', 'prefixListId'],
    ['ReferencedGroupId', 'referencedGroupId'],
    ['Description', 'description'],
  ] as const;
  for (const [wire, field] of fields) {
    const value = params.get(`${prefix}${wire}`);
    if (value !== undefined) spec[field] = value;
  }
  return spec as unknown as RuleSpec;
}

export function modifySecurityGroupRules(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const group = targetGroup(params, store);
  const changes = new Map<string, SecurityGroupRule>();
  for (let index = 1; ; index++) {
    const id = params.get(`SecurityGroupRule.${index}.SecurityGroupRuleId`);
    if (id === undefined) break;
    const row = existingRule(store, id, group);
    const spec = modificationSpec(params, `SecurityGroupRule.${index}.SecurityGroupRule.`);
    const direction = row.isEgress ? 'egress' : 'ingress';
    changes.set(id, resolveRule(store, group, direction, spec));
  }
  if (changes.size === 0) {
    throw new Ec2RequestError(
      'MissingParameter',
      'The request must contain the parameter SecurityGroupRule',
    );
  }
  const others = store
    .rulesOf(group.groupId)
    .filter((row) => !changes.has(row.ruleId))
    .map(ruleOfRow);
  planAuthorize(others, [...changes.values()], { prefixLists: store.prefixListWeights() });
  store.replaceRules(changes);
  context.changes.groups.add(group.groupId);
  return { return: true };
}
