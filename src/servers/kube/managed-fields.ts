/**
 * Field ownership and server-side apply (`application/apply-patch+yaml`), as structured-merge-diff
 * keeps it: every write records which manager set which fields in `metadata.managedFields`
 * (`FieldsV1`: `f:` for map keys, `k:{…}` for items of keyed lists, atomic lists whole), an apply
 * merges the applied configuration, drops the fields its manager applied before and no longer
 * does, and refuses — 409 with the conflicting managers — to change a field another manager set
 * to a different value, unless forced (then ownership moves to the applier).
 */
import { KubeStatusError } from '../../core/errors.js';
import { kubeTimestamp, type KubeObject } from './storage/kube-store.js';
import { listMergeKeys } from './strategic-merge-patch.js';

type Json = Record<string, unknown>;

/** A field path: `f:spec`, `k:{"name":"app"}`, … */
type FieldPath = readonly string[];

export interface ManagedFieldsEntry {
  readonly manager: string;
  readonly operation: 'Apply' | 'Update';
  readonly apiVersion: string;
  readonly time: string;
  readonly fieldsType: 'FieldsV1';
  readonly fieldsV1: Json;
  readonly subresource?: string;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Fields the server owns: never anyone's. */
const ignoredTop = new Set(['apiVersion', 'kind', 'status']);
const ignoredMetadata = new Set([
  'managedFields',
  'resourceVersion',
  'uid',
  'creationTimestamp',
  'generation',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'name',
  'namespace',
  'selfLink',
]);

const keyOf = (path: FieldPath) => JSON.stringify(path);

/** Whether a field at `path` is the server's (type meta, status, server-set metadata). */
function serverOwned(path: FieldPath, field: string, includeStatus: boolean): boolean {
  if (path.length === 0) return ignoredTop.has(field) && !(includeStatus && field === 'status');
  return path.length === 1 && path[0] === 'f:metadata' && ignoredMetadata.has(field);
}

/** Every leaf field of an object, with its value (JSON), under the kind's keyed lists. */
export function leafFields(
  object: KubeObject,
  storageKey: string,
  includeStatus = false,
): Map<string, { path: FieldPath; value: string }> {
  const keys = listMergeKeys(storageKey);
  const leaves = new Map<string, { path: FieldPath; value: string }>();
  const walk = (value: unknown, path: FieldPath, dotted: string) => {
    if (isObject(value) && Object.keys(value).length > 0) {
      for (const [field, child] of Object.entries(value)) {
        if (serverOwned(path, field, includeStatus)) continue;
        walk(child, [...path, `f:${field}`], dotted ? `${dotted}.${field}` : field);
      }
      return;
    }
    const mergeKey = keys[dotted];
    if (
      Array.isArray(value) &&
      mergeKey &&
      value.every((item) => isObject(item) && mergeKey in item)
    ) {
      for (const item of value as Json[]) {
        const itemPath = [...path, `k:${JSON.stringify({ [mergeKey]: item[mergeKey] })}`];
        for (const [field, child] of Object.entries(item)) {
          walk(child, [...itemPath, `f:${field}`], `${dotted}.${field}`);
        }
      }
      return;
    }
    leaves.set(keyOf(path), { path, value: JSON.stringify(value) });
  };
  walk(object, [], '');
  return leaves;
}

/** FieldsV1 of a set of paths: nested `{}` objects, `.` marking list items themselves. */
export function fieldsV1Of(paths: Iterable<FieldPath>): Json {
  const root: Json = {};
  for (const path of paths) {
    let node = root;
    for (const segment of path) {
      const child = (node[segment] ?? {}) as Json;
      node[segment] = child;
      if (segment.startsWith('k:')) child['.'] = {};
      node = child;
    }
  }
  return root;
}

/** The paths a FieldsV1 names (leaves only). */
export function pathsOf(fields: Json, prefix: FieldPath = []): FieldPath[] {
  const paths: FieldPath[] = [];
  for (const [segment, child] of Object.entries(fields)) {
    if (segment === '.') continue;
    const path = [...prefix, segment];
    const children = isObject(child) ? Object.keys(child).filter((key) => key !== '.') : [];
    if (children.length === 0) paths.push(path);
    else paths.push(...pathsOf(child as Json, path));
  }
  return paths;
}

/** `.spec.template.spec.containers[name="app"].image`, as conflicts are reported. */
function displayPath(path: FieldPath): string {
  return path
    .map((segment) => {
      if (segment.startsWith('f:')) return `.${segment.slice(2)}`;
      const key = JSON.parse(segment.slice(2)) as Json;
      return `[${Object.entries(key)
        .map(([field, value]) => `${field}=${JSON.stringify(value)}`)
        .join(',')}]`;
    })
    .join('');
}

function entriesOf(object: KubeObject): ManagedFieldsEntry[] {
  const managed = object.metadata?.managedFields;
  return Array.isArray(managed) ? (managed as ManagedFieldsEntry[]) : [];
}

function now(): string {
  return kubeTimestamp();
}

/** Entries with `taken` removed from every manager but `keep`; empty entries go. */
function withoutFields(
  entries: readonly ManagedFieldsEntry[],
  taken: ReadonlySet<string>,
  keep: (entry: ManagedFieldsEntry) => boolean,
): ManagedFieldsEntry[] {
  return entries.flatMap((entry) => {
    if (keep(entry)) return [entry];
    const remaining = pathsOf(entry.fieldsV1).filter((path) => !taken.has(keyOf(path)));
    return remaining.length > 0 ? [{ ...entry, fieldsV1: fieldsV1Of(remaining) }] : [];
  });
}

/**
 * managedFields after a non-apply write by `manager`: the fields it changed become its own
 * (an `Update` entry) and leave the other managers.
 */
export function afterUpdate(
  previous: KubeObject | undefined,
  next: KubeObject,
  storageKey: string,
  manager: string,
  subresource?: string,
): ManagedFieldsEntry[] {
  const before = previous
    ? leafFields(previous, storageKey, subresource === 'status')
    : new Map<string, { path: FieldPath; value: string }>();
  const after = leafFields(next, storageKey, subresource === 'status');
  const changed = [...after].filter(([key, leaf]) => before.get(key)?.value !== leaf.value);
  const entries = previous ? entriesOf(previous) : [];
  if (changed.length === 0) return entries;
  const changedKeys = new Set(changed.map(([key]) => key));
  const own = (entry: ManagedFieldsEntry) =>
    entry.manager === manager && entry.operation === 'Update' && entry.subresource === subresource;
  const others = withoutFields(entries, changedKeys, () => false).filter((entry) => !own(entry));
  const mine = entries.find(own);
  const paths = [...(mine ? pathsOf(mine.fieldsV1) : []), ...changed.map(([, leaf]) => leaf.path)];
  const unique = new Map(paths.map((path) => [keyOf(path), path]));
  return [
    ...others,
    {
      manager,
      operation: 'Update',
      apiVersion: next.apiVersion ?? '',
      time: now(),
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1Of(unique.values()),
      ...(subresource ? { subresource } : {}),
    },
  ];
}

/** The item of a keyed list a `k:` segment names, with where it sits. */
function itemOf(
  node: unknown,
  segment: string,
  mergeKey: string,
): { list: Json[]; position: number } | undefined {
  if (!Array.isArray(node)) return undefined;
  const key = JSON.parse(segment.slice(2)) as Json;
  const list = node as Json[];
  const position = list.findIndex((item) => item[mergeKey] === key[mergeKey]);
  return position < 0 ? undefined : { list, position };
}

/**
 * Removes a field no manager owns any more; removing an item's key field removes the item
 * (the item is gone from every applied configuration).
 */
function removePath(object: Json, path: FieldPath, keys: Readonly<Record<string, string>>): void {
  let node: unknown = object;
  let dotted = '';
  let item: { list: Json[]; position: number; mergeKey: string } | undefined;
  for (const [index, segment] of path.entries()) {
    const last = index === path.length - 1;
    if (segment.startsWith('k:')) {
      const mergeKey = keys[dotted] ?? '';
      const found = itemOf(node, segment, mergeKey);
      if (!found) return;
      if (last) found.list.splice(found.position, 1);
      item = { ...found, mergeKey };
      node = found.list[found.position];
      continue;
    }
    const field = segment.slice(2);
    if (!isObject(node)) return;
    if (last) {
      if (
        item &&
        index === path.length - 1 &&
        field === item.mergeKey &&
        node === item.list[item.position]
      ) {
        item.list.splice(item.position, 1);
      } else Reflect.deleteProperty(node, field);
      return;
    }
    dotted = dotted ? `${dotted}.${field}` : field;
    node = node[field];
    item = undefined;
  }
}

/**
 * Fields other managers own that the apply would change: the conflicts (worded as apiserver
 * reports them) and the fields a forced apply takes over.
 */
function conflictsOf(
  entries: readonly ManagedFieldsEntry[],
  isMine: (entry: ManagedFieldsEntry) => boolean,
  appliedLeaves: ReadonlyMap<string, { value: string }>,
  currentLeaves: ReadonlyMap<string, { value: string }>,
): { conflicts: string[]; taken: Set<string> } {
  const conflicts: string[] = [];
  const taken = new Set<string>();
  for (const entry of entries.filter((candidate) => !isMine(candidate))) {
    for (const path of pathsOf(entry.fieldsV1)) {
      const key = keyOf(path);
      const wanted = appliedLeaves.get(key);
      if (!wanted || currentLeaves.get(key)?.value === wanted.value) continue;
      taken.add(key);
      const using = entry.operation === 'Update' ? ` using ${entry.apiVersion}` : '';
      conflicts.push(`conflict with "${entry.manager}"${using}: ${displayPath(path)}`);
    }
  }
  return { conflicts, taken };
}

/**
 * A server-side apply of `applied` by `manager` onto `current` (undefined: the object is
 * created). `merge` merges the applied configuration into an object as the kind merges.
 */
export function serverSideApply(options: {
  readonly current: KubeObject | undefined;
  readonly applied: KubeObject;
  readonly storageKey: string;
  readonly manager: string;
  readonly force: boolean;
  readonly merge: (current: KubeObject, applied: KubeObject) => KubeObject;
}): KubeObject {
  const { current, applied, storageKey, manager, force } = options;
  const appliedLeaves = leafFields(applied, storageKey);
  const entries = current ? entriesOf(current) : [];
  const currentLeaves = current
    ? leafFields(current, storageKey)
    : new Map<string, { value: string }>();
  const isMine = (entry: ManagedFieldsEntry) =>
    entry.manager === manager && entry.operation === 'Apply';
  const { conflicts, taken } = conflictsOf(entries, isMine, appliedLeaves, currentLeaves);
  if (conflicts.length > 0 && !force) {
    const count = conflicts.length === 1 ? '1 conflict' : `${conflicts.length} conflicts`;
    throw new KubeStatusError(
      'Conflict',
      409,
      `Apply failed with ${count}: ${conflicts.join('\n')}`,
      { causes: conflicts.map((message) => ({ reason: 'FieldManagerConflict', message })) },
    );
  }
  const previousMine = entries.find(isMine);
  const othersOwn = new Set(
    withoutFields(entries, taken, () => false)
      .filter((entry) => !isMine(entry))
      .flatMap((entry) => pathsOf(entry.fieldsV1).map(keyOf)),
  );
  const merged = structuredClone(options.merge(current ?? {}, applied)) as Json;
  const keys = listMergeKeys(storageKey);
  for (const path of previousMine ? pathsOf(previousMine.fieldsV1) : []) {
    const key = keyOf(path);
    if (!appliedLeaves.has(key) && !othersOwn.has(key)) removePath(merged, path, keys);
  }
  const managedFields: ManagedFieldsEntry[] = [
    ...withoutFields(entries, taken, () => false).filter((entry) => !isMine(entry)),
    {
      manager,
      operation: 'Apply',
      apiVersion: applied.apiVersion ?? '',
      time: now(),
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1Of([...appliedLeaves.values()].map((leaf) => leaf.path)),
    },
  ];
  return { ...merged, metadata: { ...(merged.metadata as Json), managedFields } };
}
