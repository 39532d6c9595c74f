/**
 * CreateSecurityGroup, DeleteSecurityGroup, DescribeSecurityGroups: the groups of the VPC, with
 * EC2's names, rules, filters, pagination and errors (InvalidGroup.Duplicate compared without
 * case, InvalidGroup.Reserved, CannotDelete, DependencyViolation, quota).
 */
import { Ec2RequestError } from '../../../core/errors.js';
import { defaultQuotas } from '../../../core/sg/quota.js';
import { isResourceId } from '../../../core/sg/resource-ids.js';
import { newGroupRules } from '../../../core/sg/security-group.js';
import type { XmlValue } from '../query/ec2-xml.js';
import type { QueryParams } from '../query/query-params.js';
import type { Ec2Store, GroupRow, RuleRow } from '../state/ec2-store.js';
import { arnOf, type Ec2Context } from './ec2-context.js';
import { applyFilters, tagIndex, type FilterFields } from './filters.js';
import { permissionsXml } from './ip-permissions.js';
import { paginate } from './pagination.js';
import { applyTags, tagSetXml, tagSpecificationsOf } from './tags.js';

const namePattern = /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/;

export function malformedGroupId(id: string): Ec2RequestError {
  return new Ec2RequestError(
    'InvalidGroupId.Malformed',
    `Invalid id: "${id}" (expecting "sg-...")`,
  );
}

export function groupNotFound(id: string): Ec2RequestError {
  return new Ec2RequestError('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
}

/** Group names only identify groups in a default VPC, and this account has none (eksctl's VPC). */
export function groupNameNotFound(name: string): Ec2RequestError {
  return new Ec2RequestError(
    'InvalidGroup.NotFound',
    `The security group '${name}' does not exist in default VPC 'none'`,
  );
}

/** The group `id` names, or EC2's Malformed / NotFound error. */
export function existingGroup(store: Ec2Store, id: string): GroupRow {
  if (!isResourceId('securityGroup', id)) throw malformedGroupId(id);
  const group = store.group(id);
  if (!group) throw groupNotFound(id);
  return group;
}

function validateText(value: string, parameter: string): void {
  if (value.length > 255) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Value (${value}) for parameter ${parameter} is invalid. Length exceeds maximum of 255 characters.`,
    );
  }
  if (!namePattern.test(value)) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Value (${value}) for parameter ${parameter} is invalid. Character sets beyond ASCII are not supported.`,
    );
  }
}

function vpcOf(params: QueryParams, store: Ec2Store): string {
  const vpcId = params.get('VpcId');
  if (vpcId === undefined) {
    throw new Ec2RequestError('VPCIdNotSpecified', 'No default VPC for this user');
  }
  if (!store.vpcs().some((vpc) => vpc.vpcId === vpcId)) {
    throw new Ec2RequestError('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
  }
  return vpcId;
}

/** Inserts a group and its starting rules; bootstrap uses it for `default` too. */
export function insertGroup(
  context: Ec2Context,
  group: GroupRow,
  rules = newGroupRules(group.groupId),
): void {
  context.store.insertGroup(group);
  for (const rule of rules) context.store.insertRule(rule, context.newId('securityGroupRule'));
  context.changes.groups.add(group.groupId);
}

export function createSecurityGroup(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const groupName = params.required('GroupName');
  const description = params.required('GroupDescription');
  validateText(groupName, 'GroupName');
  validateText(description, 'GroupDescription');
  if (groupName.toLowerCase().startsWith('sg-')) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Value (${groupName}) for parameter GroupName is invalid. Group names may not be in the format sg-*.`,
    );
  }
  const vpcId = vpcOf(params, store);
  if (groupName.toLowerCase() === 'default') {
    throw new Ec2RequestError('InvalidGroup.Reserved', `The security group 'default' is reserved`);
  }
  if (store.groupByName(vpcId, groupName)) {
    throw new Ec2RequestError(
      'InvalidGroup.Duplicate',
      `The security group '${groupName}' already exists for VPC '${vpcId}'`,
    );
  }
  if (store.groupCount() >= defaultQuotas.securityGroupsPerRegion) {
    throw new Ec2RequestError(
      'SecurityGroupLimitExceeded',
      'The maximum number of security groups has been reached.',
    );
  }
  const tags = tagSpecificationsOf(params, 'security-group');
  const groupId = context.newId('securityGroup');
  insertGroup(context, { groupId, vpcId, groupName, description, ownerId: context.accountId });
  applyTags(store, groupId, tags);
  return {
    return: true,
    groupId,
    securityGroupArn: arnOf(context, 'security-group', groupId),
    tagSet: tags.length > 0 ? tags.map((tag) => ({ key: tag.key, value: tag.value })) : undefined,
  };
}

/** What keeps a group from being deleted: rules of other groups that reference it, and users. */
export type GroupDependentsCheck = (store: Ec2Store, groupId: string) => boolean;
const dependentsChecks: GroupDependentsCheck[] = [
  (store, groupId) => store.rulesReferencing(groupId).length > 0,
];

/** Lets later resources (network interfaces, DB instances) keep a group in use. */
export function registerGroupDependents(check: GroupDependentsCheck): void {
  dependentsChecks.push(check);
}

export function deleteSecurityGroup(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const groupId = params.get('GroupId');
  const groupName = params.get('GroupName');
  if (groupId === undefined) {
    if (groupName === undefined) {
      throw new Ec2RequestError(
        'MissingParameter',
        'The request must contain the parameter groupName or groupId',
      );
    }
    throw groupNameNotFound(groupName);
  }
  const group = existingGroup(store, groupId);
  if (group.groupName === 'default') {
    throw new Ec2RequestError(
      'CannotDelete',
      `the specified group: "${groupId}" name: "default" cannot be deleted by a user`,
    );
  }
  if (dependentsChecks.some((check) => check(store, groupId))) {
    throw new Ec2RequestError('DependencyViolation', `resource ${groupId} has a dependent object`);
  }
  store.deleteGroup(groupId);
  context.changes.removedGroups.add(groupId);
  return { return: true, groupId };
}

function rulesByGroup(rules: readonly RuleRow[]): Map<string, RuleRow[]> {
  const byGroup = new Map<string, RuleRow[]>();
  for (const rule of rules) {
    const list = byGroup.get(rule.groupId) ?? [];
    list.push(rule);
    byGroup.set(rule.groupId, list);
  }
  return byGroup;
}

interface DescribedGroup {
  readonly group: GroupRow;
  readonly rules: readonly RuleRow[];
}

function permissionFields(egress: boolean): FilterFields<DescribedGroup> {
  const prefix = egress ? 'egress.ip-permission.' : 'ip-permission.';
  const rulesOf = (item: DescribedGroup) => item.rules.filter((rule) => rule.isEgress === egress);
  const values = (pick: (rule: RuleRow) => string | number | undefined) => (item: DescribedGroup) =>
    rulesOf(item)
      .map(pick)
      .filter((value) => value !== undefined)
      .map(String);
  return {
    [`${prefix}cidr`]: values((rule) => rule.cidrIpv4),
    [`${prefix}ipv6-cidr`]: values((rule) => rule.cidrIpv6),
    [`${prefix}prefix-list-id`]: values((rule) => rule.prefixListId),
    [`${prefix}group-id`]: values((rule) => rule.referencedGroupId),
    [`${prefix}protocol`]: values((rule) => rule.ipProtocol),
    [`${prefix}from-port`]: values((rule) => rule.fromPort),
    [`${prefix}to-port`]: values((rule) => rule.toPort),
    [`${prefix}user-id`]: (item) =>
      rulesOf(item).some((rule) => rule.referencedGroupId !== undefined)
        ? [item.group.ownerId]
        : [],
  };
}

const groupFilterFields: FilterFields<DescribedGroup> = {
  'group-id': (item) => item.group.groupId,
  'group-name': (item) => item.group.groupName,
  description: (item) => item.group.description,
  'vpc-id': (item) => item.group.vpcId,
  'owner-id': (item) => item.group.ownerId,
  ...permissionFields(false),
  ...permissionFields(true),
};

export function describeSecurityGroups(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const ids = params.list('GroupId');
  const names = params.list('GroupName');
  if (ids.length > 0 && params.get('MaxResults') !== undefined) {
    throw new Ec2RequestError(
      'InvalidParameterCombination',
      'The parameter groupIds cannot be used with the parameter maxResults',
    );
  }
  for (const id of ids) existingGroup(store, id);
  const [name] = names;
  if (name !== undefined) throw groupNameNotFound(name);
  const filters = params.filters();
  // Rule contents are read for every group only when a filter looks at them.
  const byRules = filters.some((filter) => filter.name.includes('ip-permission.'));
  const byGroup = byRules ? rulesByGroup(store.rules()) : undefined;
  const tags = tagIndex(store.tags());
  const wanted = new Set(ids);
  const groups = store
    .groups()
    .filter((group) => wanted.size === 0 || wanted.has(group.groupId))
    .map((group) => ({ group, rules: byGroup?.get(group.groupId) ?? [] }));
  const matching = applyFilters(groups, filters, groupFilterFields, (item) =>
    tags(item.group.groupId),
  );
  const page = paginate(matching, params, { min: 5, max: 1000 });
  // A few groups: their rules by index; many: one scan of every rule.
  const rulesOf =
    byGroup ??
    (page.items.length > 50
      ? rulesByGroup(store.rules())
      : new Map(page.items.map(({ group }) => [group.groupId, store.rulesOf(group.groupId)])));
  return {
    securityGroupInfo: page.items.map(({ group }) => {
      const rules = rulesOf.get(group.groupId) ?? [];
      return {
        ownerId: group.ownerId,
        groupId: group.groupId,
        groupName: group.groupName,
        groupDescription: group.description,
        ipPermissions: permissionsXml(
          rules.filter((rule) => !rule.isEgress),
          group.ownerId,
        ),
        ipPermissionsEgress: permissionsXml(
          rules.filter((rule) => rule.isEgress),
          group.ownerId,
        ),
        vpcId: group.vpcId,
        securityGroupArn: arnOf(context, 'security-group', group.groupId),
        tagSet: tagSetXml(tags(group.groupId)),
      };
    }),
    nextToken: page.nextToken,
  };
}
