/**
 * The work this API server does by itself, as kube-controller-manager and apiextensions would:
 * namespace finalisation (delete everything in a Terminating namespace, then the namespace),
 * CRD cleanup (a deleted CRD takes its custom resources with it), and garbage collection by
 * `ownerReferences` — background (dependents of a deleted owner go), foreground (the owner
 * waits for its dependents) and orphan (dependents lose the reference and stay).
 *
 * Work is queued from the store's changes and drained off the request path; a failed step
 * (a write that raced a client) is retried on the next drain.
 */
import type { UserInfo } from './authentication.js';
import type { ResourceRegistry, ResourceType } from './kube-resources.js';
import { crdCleanupFinalizer, crdKey, namespaceKey, type ObjectWriter } from './object-writes.js';
import type { Change, KubeObject, KubeStore } from './storage/kube-store.js';

interface ObjectRef {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
}

type Json = Record<string, unknown>;

const refId = (ref: ObjectRef) => `${ref.key}\u0000${ref.namespace}\u0000${ref.name}`;

const uidOf = (reference: Json): string => (typeof reference.uid === 'string' ? reference.uid : '');

function ownerUidsOf(object: KubeObject): string[] {
  const references = object.metadata?.ownerReferences;
  return Array.isArray(references)
    ? (references as Json[]).map((reference) => uidOf(reference))
    : [];
}

function finalizersOf(object: KubeObject): string[] {
  return Array.isArray(object.metadata?.finalizers) ? (object.metadata.finalizers as string[]) : [];
}

export class ServerControllers {
  /** uid → where the object lives. */
  readonly #objects = new Map<string, ObjectRef>();
  /** owner uid → dependents (by ref id). */
  readonly #dependents = new Map<string, Map<string, ObjectRef>>();
  /** ref id → the owner uids it was indexed under. */
  readonly #ownersOf = new Map<string, string[]>();
  readonly #queue = new Map<string, () => Promise<void>>();
  #scheduled = false;
  #stopped = false;
  readonly #unsubscribe: () => void;

  constructor(
    private readonly store: KubeStore,
    private readonly registry: ResourceRegistry,
    private readonly writer: ObjectWriter,
    private readonly onError: (error: unknown) => void,
  ) {
    for (const { resource, namespace, object } of store.scan()) {
      this.#index({ key: resource, namespace, name: object.metadata?.name ?? '' }, object);
    }
    this.#unsubscribe = store.subscribe((change) => {
      this.#observe(change);
    });
    // Work a crash may have interrupted: dependents of owners that are gone, deletions pending.
    for (const { resource, namespace, object } of store.scan()) {
      this.#enqueueFor(resource, namespace, object);
    }
    for (const namespace of store.list(namespaceKey).items) {
      const name = namespace.metadata?.name ?? '';
      this.#enqueue(`sa:${name}`, async () => {
        await this.#ensureDefaultServiceAccount(name);
      });
    }
    for (const ownerUid of this.#dependents.keys()) {
      if (!this.#objects.has(ownerUid))
        this.#enqueue(`gc:${ownerUid}`, async () => {
          await this.#collect(ownerUid);
        });
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe();
  }

  /** Resolves when the queue is empty (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#queue.size > 0 || this.#scheduled) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  #index(ref: ObjectRef, object: KubeObject): void {
    const id = refId(ref);
    for (const uid of this.#ownersOf.get(id) ?? []) this.#dependents.get(uid)?.delete(id);
    const uid = object.metadata?.uid;
    if (uid) this.#objects.set(uid, ref);
    const owners = ownerUidsOf(object);
    this.#ownersOf.set(id, owners);
    for (const owner of owners) {
      const dependents = this.#dependents.get(owner) ?? new Map<string, ObjectRef>();
      dependents.set(id, ref);
      this.#dependents.set(owner, dependents);
    }
  }

  #unindex(ref: ObjectRef, object: KubeObject): void {
    const id = refId(ref);
    for (const uid of this.#ownersOf.get(id) ?? []) {
      const dependents = this.#dependents.get(uid);
      dependents?.delete(id);
      if (dependents?.size === 0) this.#dependents.delete(uid);
    }
    this.#ownersOf.delete(id);
    const uid = object.metadata?.uid;
    if (uid) this.#objects.delete(uid);
  }

  #observe(change: Change): void {
    const ref = { key: change.resource, namespace: change.namespace, name: change.name };
    if (change.type === 'DELETED') {
      this.#unindex(ref, change.object);
      const uid = change.object.metadata?.uid;
      if (uid && this.#dependents.has(uid))
        this.#enqueue(`gc:${uid}`, async () => {
          await this.#collect(uid);
        });
      for (const owner of ownerUidsOf(change.object)) this.#wakeOwner(owner);
      if (change.namespace) this.#wakeNamespace(change.namespace);
      this.#wakeCrdOf(change.resource);
      return;
    }
    this.#index(ref, change.object);
    this.#enqueueFor(change.resource, change.namespace, change.object);
    if (change.resource === namespaceKey && change.type === 'ADDED') {
      this.#enqueue(`sa:${change.name}`, async () => {
        await this.#ensureDefaultServiceAccount(change.name);
      });
    }
  }

  /** Every namespace has a `default` ServiceAccount (the serviceaccounts controller's job). */
  async #ensureDefaultServiceAccount(namespace: string): Promise<void> {
    const type = this.#typeOf('/serviceaccounts');
    const live = this.store.get(namespaceKey, '', namespace);
    if (!type || !live || live.metadata?.deletionTimestamp) return;
    if (this.store.get('/serviceaccounts', namespace, 'default')) return;
    await this.writer.create(
      type,
      namespace,
      { metadata: { name: 'default' } },
      { user: controllerUser('serviceaccount-controller') },
    );
  }

  /** An owner waiting (foreground) for its dependents hears that one went. */
  #wakeOwner(uid: string): void {
    const owner = this.#objects.get(uid);
    if (!owner) return;
    const object = this.store.get(owner.key, owner.namespace, owner.name);
    if (object) this.#enqueueFor(owner.key, owner.namespace, object);
  }

  #wakeNamespace(namespace: string): void {
    const object = this.store.get(namespaceKey, '', namespace);
    if (object?.metadata?.deletionTimestamp) {
      this.#enqueue(`ns:${namespace}`, async () => {
        await this.#finalizeNamespace(namespace);
      });
    }
  }

  /** A terminating CRD hears that one of its objects went. */
  #wakeCrdOf(key: string): void {
    const [group = '', plural = ''] = key.split('/');
    if (!group) return;
    const crd = this.store.get(crdKey, '', `${plural}.${group}`);
    if (crd) this.#enqueueFor(crdKey, '', crd);
  }

  #enqueueFor(key: string, namespace: string, object: KubeObject): void {
    if (!object.metadata?.deletionTimestamp) return;
    const name = object.metadata.name ?? '';
    if (key === namespaceKey) {
      this.#enqueue(`ns:${name}`, async () => {
        await this.#finalizeNamespace(name);
      });
      return;
    }
    const finalizers = finalizersOf(object);
    const uid = object.metadata.uid ?? '';
    const ref = { key, namespace, name };
    if (finalizers.includes('foregroundDeletion')) {
      this.#enqueue(`fg:${uid}`, async () => {
        await this.#deleteForeground(ref, uid);
      });
    }
    if (finalizers.includes('orphan')) {
      this.#enqueue(`orphan:${uid}`, async () => {
        await this.#orphan(ref, uid);
      });
    }
    if (key === crdKey && finalizers.includes(crdCleanupFinalizer)) {
      this.#enqueue(`crd:${name}`, async () => {
        await this.#cleanUpCrd(object);
      });
    }
  }

  #enqueue(id: string, work: () => Promise<void>): void {
    if (this.#stopped) return;
    this.#queue.set(id, work);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    const batch = [...this.#queue.entries()];
    this.#queue.clear();
    for (const [id, work] of batch) {
      if (this.#stopped) break;
      try {
        await work();
      } catch (error) {
        // A write that lost a race is retried; anything else is reported, then retried too.
        if (!isConflict(error)) this.onError(error);
        setTimeout(() => {
          this.#enqueue(id, work);
        }, 50).unref();
      }
    }
    this.#scheduled = false;
    if (this.#queue.size > 0) this.#schedule();
  }

  #typeOf(key: string): ResourceType | undefined {
    return this.registry.typesOf(key)[0];
  }

  async #deleteQuietly(ref: ObjectRef): Promise<void> {
    const type = this.#typeOf(ref.key);
    const object = this.store.get(ref.key, ref.namespace, ref.name);
    if (!object || object.metadata?.deletionTimestamp) return;
    if (!type) {
      // No longer served (its CRD is gone): nothing can finalise it, so it just goes.
      this.store.delete(ref.key, ref.namespace, ref.name);
      return;
    }
    try {
      await this.writer.delete(type, ref.namespace, ref.name, {
        propagationPolicy: 'Background',
        user: controllerUser('generic-garbage-collector'),
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Background collection: dependents whose owners are all gone go; others lose the reference. */
  async #collect(ownerUid: string): Promise<void> {
    if (this.#objects.has(ownerUid)) return;
    for (const ref of [...(this.#dependents.get(ownerUid)?.values() ?? [])]) {
      const object = this.store.get(ref.key, ref.namespace, ref.name);
      if (!object) continue;
      const remaining = ownerUidsOf(object).filter((uid) => this.#objects.has(uid));
      if (remaining.length === 0) await this.#deleteQuietly(ref);
      else await this.#dropOwnerReferences(ref, (uid) => !this.#objects.has(uid));
    }
  }

  async #dropOwnerReferences(ref: ObjectRef, drop: (uid: string) => boolean): Promise<void> {
    const type = this.#typeOf(ref.key);
    if (!type) return;
    await this.writer.update(type, ref.namespace, ref.name, (current) => {
      const kept = ((current.metadata?.ownerReferences ?? []) as Json[]).filter(
        (reference) => !drop(uidOf(reference)),
      );
      const metadata: Json = { ...current.metadata, ownerReferences: kept };
      if (kept.length === 0) delete metadata.ownerReferences;
      return { ...current, metadata };
    });
  }

  async #deleteForeground(owner: ObjectRef, uid: string): Promise<void> {
    const dependents = [...(this.#dependents.get(uid)?.values() ?? [])];
    if (dependents.length === 0) {
      const type = this.#typeOf(owner.key);
      if (type)
        await this.writer.removeFinalizer(type, owner.namespace, owner.name, 'foregroundDeletion');
      return;
    }
    for (const ref of dependents) await this.#deleteQuietly(ref);
  }

  async #orphan(owner: ObjectRef, uid: string): Promise<void> {
    for (const ref of [...(this.#dependents.get(uid)?.values() ?? [])]) {
      await this.#dropOwnerReferences(ref, (reference) => reference === uid);
    }
    const type = this.#typeOf(owner.key);
    if (type) await this.writer.removeFinalizer(type, owner.namespace, owner.name, 'orphan');
  }

  /** Everything in the namespace is deleted; when nothing is left, the namespace goes. */
  async #finalizeNamespace(namespace: string): Promise<void> {
    const resources = this.store.resourcesIn(namespace);
    if (resources.length === 0) {
      const type = this.#typeOf(namespaceKey);
      if (type) this.writer.finalizeNamespace(type, namespace);
      return;
    }
    for (const key of resources) {
      for (const object of this.store.list(key, namespace).items) {
        await this.#deleteQuietly({ key, namespace, name: object.metadata?.name ?? '' });
      }
    }
  }

  /** A deleted CRD's custom resources go first, then the CRD. */
  async #cleanUpCrd(crd: KubeObject): Promise<void> {
    const spec = (crd.spec ?? {}) as { group?: string; names?: { plural?: string } };
    const key = `${spec.group ?? ''}/${spec.names?.plural ?? ''}`;
    const remaining = this.store.list(key).items;
    if (remaining.length === 0) {
      const type = this.#typeOf(crdKey);
      if (type)
        await this.writer.removeFinalizer(type, '', crd.metadata?.name ?? '', crdCleanupFinalizer);
      return;
    }
    for (const object of remaining) {
      await this.#deleteQuietly({
        key,
        namespace: object.metadata?.namespace ?? '',
        name: object.metadata?.name ?? '',
      });
    }
  }
}

/** The identity the server's own controllers write as (what webhooks see in userInfo). */
function controllerUser(controller: string): UserInfo {
  return {
    username: `system:serviceaccount:kube-system:${controller}`,
    uid: '',
    groups: [
      'system:serviceaccounts',
      'system:serviceaccounts:kube-system',
      'system:authenticated',
    ],
  };
}

function isConflict(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { reason?: unknown }).reason === 'Conflict'
  );
}

function isNotFound(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { reason?: unknown }).reason === 'NotFound'
  );
}
