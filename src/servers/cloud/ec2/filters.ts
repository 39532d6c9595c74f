/**
 * EC2 `Filter.N` semantics for any resource: filters are ANDed, values within a filter ORed,
 * `*` and `?` are wildcards, matching is case-sensitive. `tag:<key>`, `tag-key` and `tag-value`
 * work for every taggable resource. An unknown filter name is EC2's `InvalidParameterValue`.
 */
import { Ec2RequestError } from '../../../core/errors.js';
import { filterMatcher, type Filter } from '../query/query-params.js';
import type { TagRow } from '../state/ec2-store.js';

/** The value(s) of one filterable field of an item; a list matches when any element matches. */
export type FieldValue = string | number | boolean | readonly string[] | undefined;
export type FilterField<T> = (item: T) => FieldValue;

export type FilterFields<T> = Readonly<Record<string, FilterField<T>>>;

function asTexts(value: FieldValue): readonly string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (typeof value === 'number' || typeof value === 'boolean') return [String(value)];
  return value;
}

export function assertKnownFilters<T>(
  filters: readonly Filter[],
  fields: FilterFields<T>,
  taggable: boolean,
): void {
  for (const filter of filters) {
    const isTag =
      taggable &&
      (filter.name.startsWith('tag:') || filter.name === 'tag-key' || filter.name === 'tag-value');
    if (!isTag && !Object.hasOwn(fields, filter.name)) {
      throw new Ec2RequestError('InvalidParameterValue', `The filter '${filter.name}' is invalid`);
    }
  }
}

function fieldOf<T>(
  filter: Filter,
  fields: FilterFields<T>,
  tagsOf: ((item: T) => readonly TagRow[]) | undefined,
): (item: T) => readonly string[] {
  if (tagsOf && filter.name.startsWith('tag:')) {
    const key = filter.name.slice('tag:'.length);
    return (item) =>
      tagsOf(item)
        .filter((tag) => tag.key === key)
        .map((tag) => tag.value);
  }
  if (tagsOf && filter.name === 'tag-key') return (item) => tagsOf(item).map((tag) => tag.key);
  if (tagsOf && filter.name === 'tag-value') return (item) => tagsOf(item).map((tag) => tag.value);
  const field = fields[filter.name];
  return (item) => (field ? asTexts(field(item)) : []);
}

/** The items matching every filter. `tagsOf` makes the tag filters available. */
export function applyFilters<T>(
  items: readonly T[],
  filters: readonly Filter[],
  fields: FilterFields<T>,
  tagsOf?: (item: T) => readonly TagRow[],
): T[] {
  assertKnownFilters(filters, fields, tagsOf !== undefined);
  if (filters.length === 0) return [...items];
  const tests = filters.map((filter) => {
    const values = fieldOf(filter, fields, tagsOf);
    const matches = filterMatcher(filter);
    return (item: T) => values(item).some(matches);
  });
  return items.filter((item) => tests.every((test) => test(item)));
}

/** Tags grouped by resource id, for filtering many resources without a query each. */
export function tagIndex(tags: readonly TagRow[]): (resourceId: string) => readonly TagRow[] {
  const byResource = new Map<string, TagRow[]>();
  for (const tag of tags) {
    const list = byResource.get(tag.resourceId) ?? [];
    list.push(tag);
    byResource.set(tag.resourceId, list);
  }
  return (resourceId) => byResource.get(resourceId) ?? [];
}
