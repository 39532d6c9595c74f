/**
 * The Kubernetes API server's storage: every object of every kind in one SQLite file
 * (better-sqlite3, WAL), one global resourceVersion bumped by every write, and a change history
 * that watches replay from any resourceVersion still retained (older ones are `Expired`, 410).
 * Each write is one transaction; listeners hear of it only after its commit, so a watcher never
 * sees a change that a crash could take back.
 *
 * Reads come from an in-memory copy of each resource (the apiserver's watch cache), filled from
 * the file on first use and updated after each commit; its objects are frozen, so a caller that
 * would change one must copy it. One process owns a file (the server's pid file says which).
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';

/** `<group>/<resource>`: `/namespaces`, `apps/deployments`, `vpcresources.k8s.aws/securitygrouppolicies`. */
export type ResourceKey = string;

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    generation?: number;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  readonly resourceVersion: number;
  readonly resource: ResourceKey;
  readonly namespace: string;
  readonly name: string;
  readonly type: ChangeType;
  readonly object: KubeObject;
}

/** Why a write was refused: the reason and code the API server answers with. */
export class StorageConflict extends Error {
  constructor(
    readonly reason: 'NotFound' | 'AlreadyExists' | 'Conflict',
    message: string,
  ) {
    super(message);
    this.name = 'StorageConflict';
  }
}

const schema = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    resource_version INTEGER NOT NULL, object TEXT NOT NULL,
    PRIMARY KEY (resource, namespace, name)
  );
  CREATE TABLE IF NOT EXISTS changes (
    resource_version INTEGER PRIMARY KEY, resource TEXT NOT NULL, namespace TEXT NOT NULL,
    name TEXT NOT NULL, type TEXT NOT NULL, object TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS changes_resource ON changes (resource, resource_version);
`;

type Raw = Record<string, unknown>;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

const objectKey = (namespace: string, name: string) => `${namespace}\u0000${name}`;

/** One resource's committed objects, and their (namespace, name) order once asked for. */
interface CachedResource {
  readonly objects: Map<string, KubeObject>;
  sorted?: KubeObject[];
}

function withVersion(object: KubeObject, resourceVersion: number): KubeObject {
  return {
    ...object,
    metadata: { ...object.metadata, resourceVersion: String(resourceVersion) },
  };
}

/** A Kubernetes timestamp: RFC 3339 in UTC, to the second (`2026-11-26T10:00:00Z`). */
export function kubeTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A new object as stored: its name and namespace, a uid, creation time and generation. */
export function createdObject(object: KubeObject, namespace: string, name: string): KubeObject {
  return {
    ...object,
    metadata: {
      ...object.metadata,
      name,
      ...(namespace ? { namespace } : {}),
      uid: randomUUID(),
      creationTimestamp: kubeTimestamp(),
      generation: object.metadata?.generation ?? 1,
    },
  };
}

/** The object a write replaces: NotFound when absent, Conflict when the caller's version is stale. */
export function checkedCurrent(
  current: KubeObject | undefined,
  name: string,
  expectedResourceVersion: string | undefined,
): KubeObject {
  if (!current) throw new StorageConflict('NotFound', `"${name}" not found`);
  if (
    expectedResourceVersion !== undefined &&
    expectedResourceVersion !== current.metadata?.resourceVersion
  ) {
    throw new StorageConflict(
      'Conflict',
      `Operation cannot be fulfilled on "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    );
  }
  return current;
}

export interface KubeStoreOptions {
  /** Changes kept for watches (older resourceVersions are `Expired`). */
  readonly historySize?: number;
}

export class KubeStore {
  readonly #database: Database.Database;
  readonly #statements;
  readonly #listeners = new Set<(change: Change) => void>();
  readonly #historySize: number;
  readonly #cache = new Map<ResourceKey, CachedResource>();

  private constructor(database: Database.Database, options: KubeStoreOptions) {
    this.#database = database;
    this.#historySize = options.historySize ?? 50_000;
    const prepare = (sql: string) => database.prepare(sql);
    this.#statements = {
      meta: prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
      get: prepare('SELECT * FROM objects WHERE resource = ? AND namespace = ? AND name = ?'),
      listAll: prepare('SELECT * FROM objects WHERE resource = ? ORDER BY namespace, name'),
      put: prepare(
        `INSERT INTO objects (resource, namespace, name, resource_version, object)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(resource, namespace, name) DO UPDATE SET
           resource_version = excluded.resource_version, object = excluded.object`,
      ),
      resourcesIn: prepare('SELECT DISTINCT resource FROM objects WHERE namespace = ?'),
      scan: prepare('SELECT * FROM objects ORDER BY resource, namespace, name'),
      remove: prepare('DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?'),
      record: prepare(
        'INSERT INTO changes (resource_version, resource, namespace, name, type, object) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      since: prepare('SELECT * FROM changes WHERE resource_version > ? ORDER BY resource_version'),
      sinceFor: prepare(
        'SELECT * FROM changes WHERE resource = ? AND resource_version > ? ORDER BY resource_version',
      ),
      trim: prepare('DELETE FROM changes WHERE resource_version <= ?'),
    } as const;
  }

  static open(path: string, options: KubeStoreOptions = {}): KubeStore {
    const database = new Database(path);
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('busy_timeout = 5000');
    database.exec(schema);
    return new KubeStore(database, options);
  }

  close(): void {
    this.#database.close();
  }

  #meta(key: string): number {
    const row = this.#statements.meta.get(key) as Raw | undefined;
    return row ? Number(row.value) : 0;
  }

  /** The resourceVersion of the last write (0 for an empty store). */
  currentResourceVersion(): number {
    return this.#meta('resourceVersion');
  }

  /** Watches from below this resourceVersion are `Expired`. */
  oldestWatchableResourceVersion(): number {
    return this.#meta('compactedThrough');
  }

  #cached(resource: ResourceKey): CachedResource {
    let cached = this.#cache.get(resource);
    if (!cached) {
      const objects = new Map<string, KubeObject>();
      for (const row of this.#statements.listAll.all(resource) as Raw[]) {
        objects.set(
          objectKey(String(row.namespace), String(row.name)),
          deepFreeze(JSON.parse(String(row.object)) as KubeObject),
        );
      }
      cached = { objects };
      this.#cache.set(resource, cached);
    }
    return cached;
  }

  /** The stored object (frozen), or undefined. */
  get(resource: ResourceKey, namespace: string, name: string): KubeObject | undefined {
    return this.#cached(resource).objects.get(objectKey(namespace, name));
  }

  /**
   * Objects of a resource (in one namespace, or all; frozen, in namespace and name order), with
   * the resourceVersion they were read at.
   */
  list(
    resource: ResourceKey,
    namespace?: string,
  ): { items: KubeObject[]; resourceVersion: number } {
    const cached = this.#cached(resource);
    cached.sorted ??= [...cached.objects.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, object]) => object);
    const items =
      namespace === undefined
        ? cached.sorted
        : cached.sorted.filter((object) => (object.metadata?.namespace ?? '') === namespace);
    return { items: [...items], resourceVersion: this.currentResourceVersion() };
  }

  /** The resources that have objects in a namespace. */
  resourcesIn(namespace: string): ResourceKey[] {
    return (this.#statements.resourcesIn.all(namespace) as Raw[]).map((row) =>
      String(row.resource),
    );
  }

  /** Every stored object with its resource (for indexes built at start). */
  scan(): { resource: ResourceKey; namespace: string; object: KubeObject }[] {
    return (this.#statements.scan.all() as Raw[]).map((row) => ({
      resource: String(row.resource),
      namespace: String(row.namespace),
      object: JSON.parse(String(row.object)) as KubeObject,
    }));
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #write(
    resource: ResourceKey,
    namespace: string,
    name: string,
    type: ChangeType,
    object: KubeObject,
  ): Change {
    const resourceVersion = this.currentResourceVersion() + 1;
    this.#statements.setMeta.run('resourceVersion', String(resourceVersion));
    const stored = withVersion(object, resourceVersion);
    const json = JSON.stringify(stored);
    if (type === 'DELETED') this.#statements.remove.run(resource, namespace, name);
    else this.#statements.put.run(resource, namespace, name, resourceVersion, json);
    this.#statements.record.run(resourceVersion, resource, namespace, name, type, json);
    const oldest = resourceVersion - this.#historySize;
    if (oldest > 0) {
      this.#statements.trim.run(oldest);
      this.#statements.setMeta.run('compactedThrough', String(oldest));
    }
    return { resourceVersion, resource, namespace, name, type, object: stored };
  }

  #commit(work: () => Change): KubeObject {
    const change = this.#database.transaction(work)();
    deepFreeze(change);
    const cached = this.#cache.get(change.resource);
    if (cached) {
      const key = objectKey(change.namespace, change.name);
      if (change.type === 'DELETED') cached.objects.delete(key);
      else cached.objects.set(key, change.object);
      if (change.type !== 'MODIFIED') delete cached.sorted;
      else if (cached.sorted) {
        const index = cached.sorted.findIndex(
          (object) =>
            object.metadata?.name === change.name &&
            (object.metadata.namespace ?? '') === change.namespace,
        );
        if (index >= 0) cached.sorted[index] = change.object;
      }
    }
    for (const listener of this.#listeners) listener(change);
    return change.object;
  }

  /** Stores a new object: uid, creation time, generation and resourceVersion are set here. */
  create(resource: ResourceKey, namespace: string, name: string, object: KubeObject): KubeObject {
    return this.#commit(() => {
      if (this.#statements.get.get(resource, namespace, name)) {
        throw new StorageConflict('AlreadyExists', `"${name}" already exists`);
      }
      const created = createdObject(object, namespace, name);
      return this.#write(resource, namespace, name, 'ADDED', created);
    });
  }

  #current(
    resource: ResourceKey,
    namespace: string,
    name: string,
    expectedResourceVersion: string | undefined,
  ): KubeObject {
    return checkedCurrent(this.get(resource, namespace, name), name, expectedResourceVersion);
  }

  /**
   * Replaces an object. With `expectedResourceVersion` (the caller's `metadata.resourceVersion`)
   * a stale write is a Conflict, as optimistic concurrency demands.
   */
  update(
    resource: ResourceKey,
    namespace: string,
    name: string,
    object: KubeObject,
    expectedResourceVersion?: string,
  ): KubeObject {
    return this.#commit(() => {
      const current = this.#current(resource, namespace, name, expectedResourceVersion);
      const updated: KubeObject = {
        ...object,
        metadata: {
          ...object.metadata,
          name,
          ...(namespace ? { namespace } : {}),
          uid: current.metadata?.uid,
          creationTimestamp: current.metadata?.creationTimestamp,
        },
      };
      return this.#write(resource, namespace, name, 'MODIFIED', updated);
    });
  }

  delete(
    resource: ResourceKey,
    namespace: string,
    name: string,
    expectedResourceVersion?: string,
  ): KubeObject {
    return this.#commit(() => {
      const current = this.#current(resource, namespace, name, expectedResourceVersion);
      return this.#write(resource, namespace, name, 'DELETED', current);
    });
  }

  /**
   * The changes after `resourceVersion` (of one resource, or all), or `expired` when some of
   * them are no longer retained.
   */
  changesSince(resourceVersion: number, resource?: ResourceKey): Change[] | 'expired' {
    return this.#database.transaction(() => {
      if (resourceVersion < this.oldestWatchableResourceVersion()) return 'expired' as const;
      const rows = (
        resource === undefined
          ? this.#statements.since.all(resourceVersion)
          : this.#statements.sinceFor.all(resource, resourceVersion)
      ) as Raw[];
      return rows.map((row) => ({
        resourceVersion: Number(row.resource_version),
        resource: String(row.resource),
        namespace: String(row.namespace),
        name: String(row.name),
        type: String(row.type) as ChangeType,
        object: JSON.parse(String(row.object)) as KubeObject,
      }));
    })();
  }
}
