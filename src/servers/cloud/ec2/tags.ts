/**
 * Tags on EC2 resources: CreateTags, DeleteTags, DescribeTags, `TagSpecification` on create
 * calls, and the `tagSet` of every described resource. Which ids are taggable (and how a missing
 * one is reported) is one registry, so later resource kinds only add an entry.
 */
import { Ec2RequestError } from '../../../core/errors.js';
import type { XmlValue } from '../query/ec2-xml.js';
import type { QueryParams } from '../query/query-params.js';
import type { Ec2Store, TagRow } from '../state/ec2-store.js';
import type { Ec2Context } from './ec2-context.js';
import { applyFilters, type FilterFields } from './filters.js';
import { paginate } from './pagination.js';

export interface Tag {
  readonly key: string;
  readonly value: string;
}

interface TaggableKind {
  readonly prefix: string;
  readonly resourceType: string;
  exists(store: Ec2Store, id: string): boolean;
  notFound(id: string): Ec2RequestError;
}

const taggableKinds: TaggableKind[] = [
  {
    prefix: 'sgr-',
    resourceType: 'security-group-rule',
    exists: (store, id) => store.rule(id) !== undefined,
    notFound: (id) =>
      new Ec2RequestError(
        'InvalidSecurityGroupRuleId.NotFound',
        `The security group rule ID '${id}' does not exist`,
      ),
  },
  {
    prefix: 'sg-',
    resourceType: 'security-group',
    exists: (store, id) => store.group(id) !== undefined,
    notFound: (id) =>
      new Ec2RequestError('InvalidGroup.NotFound', `The security group '${id}' does not exist`),
  },
  {
    prefix: 'vpc-',
    resourceType: 'vpc',
    exists: (store, id) => store.vpcs().some((vpc) => vpc.vpcId === id),
    notFound: (id) =>
      new Ec2RequestError('InvalidVpcID.NotFound', `The vpc ID '${id}' does not exist`),
  },
  {
    prefix: 'subnet-',
    resourceType: 'subnet',
    exists: (store, id) => store.subnets().some((subnet) => subnet.subnetId === id),
    notFound: (id) =>
      new Ec2RequestError('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`),
  },
  {
    prefix: 'pl-',
    resourceType: 'prefix-list',
    exists: (store, id) => store.prefixList(id) !== undefined,
    notFound: (id) =>
      new Ec2RequestError(
        'InvalidPrefixListID.NotFound',
        `The prefix list ID '${id}' does not exist`,
      ),
  },
];

/** Lets a later resource kind (network interfaces, instances) become taggable. */
export function registerTaggableKind(kind: TaggableKind): void {
  taggableKinds.unshift(kind);
}

const maxTagsPerResource = 50;

function kindOf(id: string): TaggableKind {
  const kind = taggableKinds.find((candidate) => id.startsWith(candidate.prefix));
  if (!kind) throw new Ec2RequestError('InvalidID', `The ID '${id}' is not valid`);
  return kind;
}

function validateTag(tag: Tag): void {
  if (tag.key.length === 0 || tag.key.length > 128) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Tag key must be between 1 and 128 characters long: '${tag.key}'`,
    );
  }
  if (tag.value.length > 256) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Tag value must be at most 256 characters long for key '${tag.key}'`,
    );
  }
  if (tag.key.toLowerCase().startsWith('aws:')) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Value ( ${tag.key} ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved for internal use`,
    );
  }
}

/** `Tag.N.Key` / `Tag.N.Value` under `prefix` (CreateTags: `Tag`; TagSpecification: `….Tag`). */
export function tagsOf(params: QueryParams, prefix: string): Tag[] {
  const tags: Tag[] = [];
  for (let index = 1; ; index++) {
    const key = params.get(`${prefix}.${index}.Key`);
    if (key === undefined) return tags;
    tags.push({ key, value: params.get(`${prefix}.${index}.Value`) ?? '' });
  }
}

/** The tags of `TagSpecification.N` for `resourceType`; another type is EC2's error. */
export function tagSpecificationsOf(params: QueryParams, resourceType: string): Tag[] {
  const tags: Tag[] = [];
  for (let index = 1; ; index++) {
    const type = params.get(`TagSpecification.${index}.ResourceType`);
    if (type === undefined) return tags;
    if (type !== resourceType) {
      throw new Ec2RequestError(
        'InvalidParameterValue',
        `'${type}' is not a valid taggable resource type for this operation.`,
      );
    }
    tags.push(...tagsOf(params, `TagSpecification.${index}.Tag`));
  }
}

/** Adds (or overwrites) tags of a resource that exists, within EC2's limits. */
export function applyTags(
  store: Ec2Store,
  resourceId: string,
  tags: readonly Tag[],
  system = false,
): void {
  const kind = kindOf(resourceId);
  if (!system) tags.forEach(validateTag);
  const keys = new Set(store.tagsOf(resourceId).map((tag) => tag.key));
  for (const tag of tags) keys.add(tag.key);
  if (keys.size > maxTagsPerResource) {
    throw new Ec2RequestError(
      'TagLimitExceeded',
      `The maximum number of Tags for a resource has been reached.`,
    );
  }
  for (const tag of tags) store.putTag({ resourceId, resourceType: kind.resourceType, ...tag });
}

/** `tagSet` of a described resource: omitted when the resource has no tags (as EC2 does). */
export function tagSetXml(tags: readonly TagRow[]): XmlValue {
  return tags.length === 0 ? undefined : tags.map((tag) => ({ key: tag.key, value: tag.value }));
}

function resourceIdsOf(params: QueryParams): string[] {
  const ids = params.list('ResourceId');
  if (ids.length === 0) {
    throw new Ec2RequestError(
      'MissingParameter',
      'The request must contain the parameter resourceIdSet',
    );
  }
  return ids;
}

export function createTags(params: QueryParams, context: Ec2Context): Record<string, XmlValue> {
  const ids = resourceIdsOf(params);
  const tags = tagsOf(params, 'Tag');
  if (tags.length === 0) {
    throw new Ec2RequestError('MissingParameter', 'The request must contain the parameter tagSet');
  }
  for (const id of ids) {
    const kind = kindOf(id);
    if (!kind.exists(context.store, id)) throw kind.notFound(id);
    applyTags(context.store, id, tags);
  }
  return { return: true };
}

export function deleteTags(params: QueryParams, context: Ec2Context): Record<string, XmlValue> {
  const ids = resourceIdsOf(params);
  const keys: { key: string; value: string | undefined }[] = [];
  for (let index = 1; ; index++) {
    const key = params.get(`Tag.${index}.Key`);
    if (key === undefined) break;
    keys.push({ key, value: params.get(`Tag.${index}.Value`) });
  }
  for (const id of ids) {
    const kind = kindOf(id);
    if (!kind.exists(context.store, id)) throw kind.notFound(id);
    for (const tag of context.store.tagsOf(id)) {
      if (tag.key.toLowerCase().startsWith('aws:')) continue;
      const named =
        keys.length === 0 ||
        keys.some((wanted) => wanted.key === tag.key && (wanted.value ?? tag.value) === tag.value);
      if (named) context.store.deleteTag(id, tag.key);
    }
  }
  return { return: true };
}

const tagFilterFields: FilterFields<TagRow> = {
  key: (tag) => tag.key,
  value: (tag) => tag.value,
  'resource-id': (tag) => tag.resourceId,
  'resource-type': (tag) => tag.resourceType,
};

export function describeTags(params: QueryParams, context: Ec2Context): Record<string, XmlValue> {
  const tags = applyFilters(context.store.tags(), params.filters(), tagFilterFields);
  const page = paginate(tags, params, { min: 5, max: 1000 });
  return {
    tagSet: page.items.map((tag) => ({
      resourceId: tag.resourceId,
      resourceType: tag.resourceType,
      key: tag.key,
      value: tag.value,
    })),
    nextToken: page.nextToken,
  };
}
