/**
 * Customer-managed prefix lists: Create/Describe/Modify/Delete, GetManagedPrefixListEntries.
 * Rules that reference a list are enforced with its current entries; a list counts as its
 * `MaxEntries` against the rule quota of every group that references it, as in EC2.
 */
import { Ec2RequestError } from '../../../core/errors.js';
import { parseCidr } from '../../../core/net/ip-address.js';
import { assertWithinRuleQuota } from '../../../core/sg/quota.js';
import { isResourceId } from '../../../core/sg/resource-ids.js';
import type { XmlValue } from '../query/ec2-xml.js';
import type { QueryParams } from '../query/query-params.js';
import { ruleOfRow, type Ec2Store, type PrefixListRow } from '../state/ec2-store.js';
import { arnOf, type Ec2Context } from './ec2-context.js';
import { applyFilters, tagIndex, type FilterFields } from './filters.js';
import { paginate } from './pagination.js';
import { applyTags, tagSetXml, tagSpecificationsOf } from './tags.js';

const maxEntriesLimit = 1000;

function invalid(message: string): Ec2RequestError {
  return new Ec2RequestError('InvalidParameterValue', message);
}

function existingPrefixList(store: Ec2Store, id: string | undefined): PrefixListRow {
  if (id === undefined) {
    throw new Ec2RequestError(
      'MissingParameter',
      'The request must contain the parameter PrefixListId',
    );
  }
  if (!isResourceId('prefixList', id)) {
    throw new Ec2RequestError(
      'InvalidPrefixListId.Malformed',
      `Invalid id: "${id}" (expecting "pl-...")`,
    );
  }
  const row = store.prefixList(id);
  if (!row) {
    throw new Ec2RequestError(
      'InvalidPrefixListID.NotFound',
      `The prefix list ID '${id}' does not exist`,
    );
  }
  return row;
}

function canonicalCidr(text: string, family: PrefixListRow['addressFamily']): string {
  const parsed = parseCidr(text);
  if (!parsed) throw invalid(`The CIDR '${text}' is invalid.`);
  if ((parsed.cidr.family === 4) !== (family === 'IPv4')) {
    throw invalid(`The CIDR '${text}' does not match the address family ${family}.`);
  }
  return parsed.cidr.text;
}

function entriesOf(params: QueryParams, prefix: string) {
  const entries: { cidr: string; description?: string }[] = [];
  for (let index = 1; ; index++) {
    const cidr = params.get(`${prefix}.${index}.Cidr`);
    if (cidr === undefined) return entries;
    const description = params.get(`${prefix}.${index}.Description`);
    entries.push(description === undefined ? { cidr } : { cidr, description });
  }
}

function maxEntriesOf(params: QueryParams, required: boolean): number | undefined {
  const maxEntries = params.integer('MaxEntries');
  if (maxEntries === undefined) {
    if (required) {
      throw new Ec2RequestError(
        'MissingParameter',
        'The request must contain the parameter MaxEntries',
      );
    }
    return undefined;
  }
  if (maxEntries < 1 || maxEntries > maxEntriesLimit) {
    throw invalid(`The maximum number of entries must be between 1 and ${maxEntriesLimit}.`);
  }
  return maxEntries;
}

function prefixListXml(row: PrefixListRow, context: Ec2Context): XmlValue {
  return {
    prefixListId: row.prefixListId,
    addressFamily: row.addressFamily,
    state: row.state,
    prefixListArn: arnOf(context, 'prefix-list', row.prefixListId),
    prefixListName: row.prefixListName,
    maxEntries: row.maxEntries,
    version: row.version,
    tagSet: tagSetXml(context.store.tagsOf(row.prefixListId)) ?? [],
    ownerId: row.ownerId,
  };
}

function assertEntriesFit(store: Ec2Store, row: PrefixListRow): void {
  if (store.entriesOf(row.prefixListId).length > row.maxEntries) {
    throw new Ec2RequestError(
      'PrefixListMaxEntriesExceeded',
      `The prefix list ${row.prefixListId} would exceed its maximum number of entries (${row.maxEntries}).`,
    );
  }
}

export function createManagedPrefixList(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const name = params.get('PrefixListName');
  if (!name) {
    throw new Ec2RequestError(
      'MissingParameter',
      'The request must contain the parameter PrefixListName',
    );
  }
  if (name.toLowerCase().startsWith('com.amazonaws')) {
    throw invalid(`The prefix list name '${name}' is reserved.`);
  }
  const family = params.get('AddressFamily');
  if (family !== 'IPv4' && family !== 'IPv6') {
    throw invalid(
      `The address family '${family ?? ''}' is invalid. Valid values are IPv4 and IPv6.`,
    );
  }
  const maxEntries = maxEntriesOf(params, true) ?? 0;
  const tags = tagSpecificationsOf(params, 'prefix-list');
  const row: PrefixListRow = {
    prefixListId: context.newId('prefixList'),
    prefixListName: name,
    addressFamily: family,
    maxEntries,
    version: 1,
    state: 'create-complete',
    ownerId: context.accountId,
  };
  store.insertPrefixList(row);
  for (const entry of entriesOf(params, 'Entry')) {
    store.putEntry({
      prefixListId: row.prefixListId,
      cidr: canonicalCidr(entry.cidr, family),
      description: entry.description,
    });
  }
  assertEntriesFit(store, row);
  applyTags(store, row.prefixListId, tags);
  context.changes.prefixLists = true;
  return { prefixList: prefixListXml(row, context) };
}

const prefixListFilterFields: FilterFields<PrefixListRow> = {
  'owner-id': (row) => row.ownerId,
  'prefix-list-id': (row) => row.prefixListId,
  'prefix-list-name': (row) => row.prefixListName,
};

export function describeManagedPrefixLists(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const ids = params.list('PrefixListId');
  for (const id of ids) existingPrefixList(store, id);
  const tags = tagIndex(store.tags());
  const selected = applyFilters(
    store.prefixLists().filter((row) => ids.length === 0 || ids.includes(row.prefixListId)),
    params.filters(),
    prefixListFilterFields,
    (row) => tags(row.prefixListId),
  );
  const page = paginate(selected, params, { min: 1, max: 100 });
  return {
    prefixListSet: page.items.map((row) => prefixListXml(row, context)),
    nextToken: page.nextToken,
  };
}

export function getManagedPrefixListEntries(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const row = existingPrefixList(context.store, params.get('PrefixListId'));
  const target = params.integer('TargetVersion');
  if (target !== undefined && target !== row.version) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Version ${target} of prefix list ${row.prefixListId} is not available; only the current version (${row.version}) is kept.`,
    );
  }
  const page = paginate(context.store.entriesOf(row.prefixListId), params, { min: 1, max: 100 });
  return {
    entrySet: page.items.map((entry) => ({ cidr: entry.cidr, description: entry.description })),
    nextToken: page.nextToken,
  };
}

export function modifyManagedPrefixList(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const row = existingPrefixList(store, params.get('PrefixListId'));
  const adding = entriesOf(params, 'AddEntry');
  const removing = entriesOf(params, 'RemoveEntry');
  const maxEntries = maxEntriesOf(params, false);
  const entriesChange = adding.length + removing.length > 0;
  if (maxEntries !== undefined && entriesChange) {
    throw new Ec2RequestError(
      'InvalidParameterCombination',
      'You cannot modify the entries of a prefix list and resize it in the same request.',
    );
  }
  const currentVersion = params.integer('CurrentVersion');
  if (entriesChange && currentVersion === undefined) {
    throw new Ec2RequestError(
      'MissingParameter',
      'The request must contain the parameter CurrentVersion',
    );
  }
  if (currentVersion !== undefined && currentVersion !== row.version) {
    throw new Ec2RequestError(
      'PrefixListVersionMismatch',
      `The prefix list ${row.prefixListId} has version ${row.version}, not ${currentVersion}.`,
    );
  }
  const present = new Set(store.entriesOf(row.prefixListId).map((entry) => entry.cidr));
  for (const entry of removing) {
    const cidr = canonicalCidr(entry.cidr, row.addressFamily);
    if (!present.has(cidr))
      throw invalid(`The CIDR '${entry.cidr}' is not in prefix list ${row.prefixListId}.`);
    store.deleteEntry(row.prefixListId, cidr);
  }
  for (const entry of adding) {
    store.putEntry({
      prefixListId: row.prefixListId,
      cidr: canonicalCidr(entry.cidr, row.addressFamily),
      description: entry.description,
    });
  }
  const updated: PrefixListRow = {
    ...row,
    prefixListName: params.get('PrefixListName') ?? row.prefixListName,
    maxEntries: maxEntries ?? row.maxEntries,
    version: entriesChange ? row.version + 1 : row.version,
    state: 'modify-complete',
  };
  store.updatePrefixList(updated);
  assertEntriesFit(store, updated);
  if (maxEntries !== undefined) assertReferencingGroupsFit(store, updated);
  context.changes.prefixLists = true;
  return { prefixList: prefixListXml(updated, context) };
}

/** A larger list weighs more in every group that references it: those groups must still fit. */
function assertReferencingGroupsFit(store: Ec2Store, row: PrefixListRow): void {
  const weights = store.prefixListWeights();
  const groups = new Set(
    store.rulesReferencingPrefixList(row.prefixListId).map((rule) => rule.groupId),
  );
  for (const groupId of groups) {
    assertWithinRuleQuota(store.rulesOf(groupId).map(ruleOfRow), undefined, weights);
  }
}

export function deleteManagedPrefixList(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const row = existingPrefixList(store, params.get('PrefixListId'));
  const [reference] = store.rulesReferencingPrefixList(row.prefixListId);
  if (reference) {
    throw new Ec2RequestError(
      'DependencyViolation',
      `The prefix list ${row.prefixListId} is referenced by security group ${reference.groupId}.`,
    );
  }
  store.deletePrefixList(row.prefixListId);
  context.changes.prefixLists = true;
  return { prefixList: prefixListXml({ ...row, state: 'delete-complete' }, context) };
}
