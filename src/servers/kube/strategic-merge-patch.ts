/**
 * Strategic merge patch (`application/strategic-merge-patch+json`), as apimachinery's
 * `strategicpatch` applies it to the built-in kinds: lists with a merge key merge element by
 * element (containers by `name`, ports by `containerPort`, …), others are replaced; `null`
 * deletes; the directives `$patch` (`replace`, `delete`, `merge`), `$retainKeys`,
 * `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>` are honoured. The merge keys
 * come from the kinds' Go struct tags (`patchMergeKey`), written down here for the fields used.
 */

type Json = Record<string, unknown>;

/** What a list field merges by: a key of its elements, or `set` for a list of primitives. */
type ListStrategy = { readonly mergeKey: string } | 'set';

const podSpecLists: Readonly<Record<string, ListStrategy>> = {
  containers: { mergeKey: 'name' },
  initContainers: { mergeKey: 'name' },
  ephemeralContainers: { mergeKey: 'name' },
  'containers.env': { mergeKey: 'name' },
  'initContainers.env': { mergeKey: 'name' },
  'containers.ports': { mergeKey: 'containerPort' },
  'initContainers.ports': { mergeKey: 'containerPort' },
  'containers.volumeMounts': { mergeKey: 'mountPath' },
  'initContainers.volumeMounts': { mergeKey: 'mountPath' },
  'containers.volumeDevices': { mergeKey: 'devicePath' },
  'initContainers.volumeDevices': { mergeKey: 'devicePath' },
  'containers.resizePolicy': { mergeKey: 'resourceName' },
  volumes: { mergeKey: 'name' },
  imagePullSecrets: { mergeKey: 'name' },
  hostAliases: { mergeKey: 'ip' },
  resourceClaims: { mergeKey: 'name' },
  schedulingGates: { mergeKey: 'name' },
  topologySpreadConstraints: { mergeKey: 'topologyKey' },
};

const metadataLists: Readonly<Record<string, ListStrategy>> = {
  'metadata.ownerReferences': { mergeKey: 'uid' },
  'metadata.finalizers': 'set',
};

function prefixed(
  prefix: string,
  lists: Readonly<Record<string, ListStrategy>>,
): Record<string, ListStrategy> {
  return Object.fromEntries(Object.entries(lists).map(([path, s]) => [`${prefix}${path}`, s]));
}

const conditions = { mergeKey: 'type' } as const;
const workloadLists = {
  ...prefixed('spec.template.spec.', podSpecLists),
  ...prefixed('spec.template.', metadataLists),
  'status.conditions': conditions,
};

/** Storage key → list paths (field names joined by dots, no indices) → strategy. */
const kindLists: Readonly<Record<string, Readonly<Record<string, ListStrategy>>>> = {
  '/pods': {
    ...prefixed('spec.', podSpecLists),
    'status.conditions': conditions,
    'status.podIPs': { mergeKey: 'ip' },
  },
  '/nodes': {
    'status.conditions': conditions,
    'status.addresses': { mergeKey: 'type' },
    'spec.podCIDRs': 'set',
  },
  '/namespaces': { 'status.conditions': conditions },
  'autoscaling/scale': {},
  '/secrets': {},
  '/configmaps': {},
  '/serviceaccounts': { secrets: { mergeKey: 'name' }, imagePullSecrets: { mergeKey: 'name' } },
  'apps/deployments': workloadLists,
  'apps/replicasets': workloadLists,
  'apps/daemonsets': workloadLists,
};

const listStrategies: Readonly<Record<string, Readonly<Record<string, ListStrategy>>>> =
  Object.fromEntries(
    Object.entries(kindLists).map(([key, lists]) => [key, { ...metadataLists, ...lists }]),
  );

/** The keyed lists of a kind: dotted list path → merge key (what field ownership keys items by). */
export function listMergeKeys(storageKey: string): Readonly<Record<string, string>> {
  return Object.fromEntries(
    Object.entries(listStrategies[storageKey] ?? {}).flatMap(([path, strategy]) =>
      strategy === 'set' ? [] : [[path, strategy.mergeKey]],
    ),
  );
}

/** Whether the kind has strategic-merge semantics here (custom resources do not: 415). */
export function supportsStrategicMerge(storageKey: string): boolean {
  return storageKey in listStrategies;
}

export class StrategicMergeError extends Error {}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const setElementOrder = '$setElementOrder/';
const deleteFromPrimitiveList = '$deleteFromPrimitiveList/';

/** A patch value with its directives removed (what lands when there is nothing to merge with). */
function withoutDirectives(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value
      .filter((item) => !(isObject(item) && item.$patch === 'delete'))
      .map(withoutDirectives);
  }
  if (!isObject(value)) return value;
  const result: Json = {};
  for (const [key, child] of Object.entries(value)) {
    if (key.startsWith('$') || child === null) continue;
    result[key] = withoutDirectives(child);
  }
  return result;
}

class Patcher {
  constructor(private readonly lists: Readonly<Record<string, ListStrategy>>) {}

  mergeMap(original: unknown, patch: Json, path: string): unknown {
    if (patch.$patch === 'delete') return undefined;
    if (patch.$patch === 'replace') return withoutDirectives(patch);
    if (patch.$patch !== undefined && patch.$patch !== 'merge') {
      throw new StrategicMergeError(`unknown patch type: ${JSON.stringify(patch.$patch)} in map`);
    }
    const fields = new Map(Object.entries(isObject(original) ? original : {}));
    for (const [key, value] of Object.entries(patch)) {
      if (key.startsWith('$')) continue;
      const merged =
        value === null
          ? undefined
          : this.mergeValue(fields.get(key), value, path ? `${path}.${key}` : key);
      if (merged === undefined) fields.delete(key);
      else fields.set(key, merged);
    }
    const retain = patch.$retainKeys;
    if (retain !== undefined) {
      if (!Array.isArray(retain)) throw new StrategicMergeError('$retainKeys must be a list');
      for (const key of fields.keys()) if (!retain.includes(key)) fields.delete(key);
    }
    const result = Object.fromEntries(fields);
    this.applyListDirectives(result, patch, path);
    return result;
  }

  /** `$deleteFromPrimitiveList/<list>` and `$setElementOrder/<list>` of one map. */
  applyListDirectives(result: Json, patch: Json, path: string): void {
    for (const [key, value] of Object.entries(patch)) {
      if (key.startsWith(deleteFromPrimitiveList)) {
        const list = key.slice(deleteFromPrimitiveList.length);
        const current = result[list];
        if (Array.isArray(current) && Array.isArray(value)) {
          result[list] = current.filter((item) => !value.includes(item));
        }
      }
    }
    for (const [key, value] of Object.entries(patch)) {
      if (!key.startsWith(setElementOrder)) continue;
      const list = key.slice(setElementOrder.length);
      const current = result[list];
      if (!Array.isArray(current) || !Array.isArray(value)) continue;
      const strategy = this.lists[path ? `${path}.${list}` : list];
      result[list] = ordered(current, value, strategy);
    }
  }

  mergeValue(original: unknown, patch: unknown, path: string): unknown {
    if (isObject(patch)) return this.mergeMap(original, patch, path);
    if (Array.isArray(patch)) return this.mergeList(original, patch, path);
    return patch;
  }

  mergeList(original: unknown, patch: unknown[], path: string): unknown[] {
    const strategy = this.lists[path];
    const current: unknown[] = Array.isArray(original) ? (original as unknown[]) : [];
    if (!strategy) return withoutDirectives(patch) as unknown[];
    if (patch.some((item) => isObject(item) && item.$patch === 'replace')) {
      return withoutDirectives(
        patch.filter((item) => !(isObject(item) && item.$patch === 'replace')),
      ) as unknown[];
    }
    if (strategy === 'set') {
      return [...current, ...patch.filter((item) => !current.includes(item))];
    }
    const { mergeKey } = strategy;
    const result = [...current];
    for (const item of patch) {
      if (!isObject(item)) throw new StrategicMergeError(`${path}: expected a map in the list`);
      if (!(mergeKey in item)) {
        throw new StrategicMergeError(
          `map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`,
        );
      }
      const index = result.findIndex(
        (existing) => isObject(existing) && existing[mergeKey] === item[mergeKey],
      );
      if (item.$patch === 'delete') {
        if (index >= 0) result.splice(index, 1);
        continue;
      }
      if (index >= 0) result[index] = this.mergeMap(result[index], item, path);
      else result.push(this.mergeMap(undefined, item, path));
    }
    return result;
  }
}

/**
 * A list in the order `$setElementOrder` gives (by merge key, or by value for primitives); items
 * the order does not name keep their place after the named ones.
 */
function ordered(
  items: unknown[],
  order: unknown[],
  strategy: ListStrategy | undefined,
): unknown[] {
  const keyOf = (item: unknown): unknown =>
    strategy && strategy !== 'set' && isObject(item) ? item[strategy.mergeKey] : item;
  const orderKeys = order.map(keyOf);
  const rank = (item: unknown) => {
    const position = orderKeys.indexOf(keyOf(item));
    return position < 0 ? orderKeys.length : position;
  };
  return items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => rank(a.item) - rank(b.item) || a.index - b.index)
    .map(({ item }) => item);
}

/** Applies a strategic merge patch to an object of a kind that supports it. */
export function strategicMergePatch(storageKey: string, original: Json, patch: Json): Json {
  const patcher = new Patcher(listStrategies[storageKey] ?? {});
  const merged = patcher.mergeMap(original, patch, '');
  return isObject(merged) ? merged : {};
}
