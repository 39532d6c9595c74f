/**
 * Every write to the API server's objects, from requests and from the server's own controllers:
 * admission (defaulting, pruning and validation), the status subresource split, `generation`,
 * finalizers and `deletionTimestamp`, and the deletion of namespaces and CRDs through their
 * finalisers. Requests reach the store only through here, so the rules hold for every client.
 */
import { randomBytes } from 'node:crypto';
import { KubeStatusError, type FieldError } from '../../core/errors.js';
import type { UserInfo } from './authentication.js';
import { defaultedBuiltin, validateBuiltin, validateMetadata } from './builtin-admission.js';
import type { WebhookAdmission } from './admission-webhooks.js';
import { crdStatus, defaultedCrd, validateCrd } from './custom-resources.js';
import { allocateClusterIp } from '../../core/kube/services.js';
import { afterUpdate } from './managed-fields.js';
import { apiVersionOf, storageKeyOf, type ResourceType } from './kube-resources.js';
import { invalid, notFound, qualifiedResource, storageError } from './status-errors.js';
import {
  checkedCurrent,
  createdObject,
  kubeTimestamp,
  StorageConflict,
  type KubeObject,
  type KubeStore,
} from './storage/kube-store.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** Who writes, and how unknown fields are treated; warnings collect `Warning` headers. */
export interface WriteContext {
  readonly user?: UserInfo;
  readonly fieldValidation?: FieldValidation;
  readonly warnings?: string[];
  /** `dryRun=All`: everything but the write itself. */
  readonly dryRun?: boolean;
  /** Who owns the fields this write sets (managedFields); `fieldManager`, else the client. */
  readonly fieldManager?: string;
  /** A server-side apply: the object already carries the managedFields it computed. */
  readonly applied?: boolean;
}

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

export interface DeleteOptions {
  readonly user?: UserInfo;
  readonly dryRun?: boolean;
  readonly propagationPolicy?: PropagationPolicy;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
  /** Seconds a pod gets to stop (0 = now); default its `terminationGracePeriodSeconds`. */
  readonly gracePeriodSeconds?: number;
}

export const podKey = '/pods';
export const serviceKey = '/services';
export const defaultServiceCidr = '10.100.0.0/16';

/**
 * The grace period of a pod's deletion (the pod strategy's `CheckGracefulDelete`): a running pod
 * on an existing node gets its `terminationGracePeriodSeconds` (or the one asked for) and stays,
 * with a deletionTimestamp, until its kubelet has stopped it; an unbound or finished pod, a pod
 * on a node that does not exist (the pod GC's case), or a grace of 0 goes at once.
 */
function podGracePeriod(
  key: string,
  pod: KubeObject,
  options: DeleteOptions,
  nodeExists: (name: string) => boolean,
): number | undefined {
  if (key !== podKey) return undefined;
  const spec = (pod.spec ?? {}) as Json;
  const phase = (pod.status as Json | undefined)?.phase;
  const requested =
    options.gracePeriodSeconds ??
    (typeof spec.terminationGracePeriodSeconds === 'number'
      ? spec.terminationGracePeriodSeconds
      : 30);
  const nodeName = typeof spec.nodeName === 'string' ? spec.nodeName : '';
  if (requested <= 0 || !nodeName || phase === 'Succeeded' || phase === 'Failed') return undefined;
  return nodeExists(nodeName) ? requested : undefined;
}

/** A Service keeps its ClusterIP: omitted in an update, it stays; changed, it is refused. */
function keptClusterIp(type: ResourceType, current: KubeObject, proposed: KubeObject): KubeObject {
  const stored = (current.spec ?? {}) as Json;
  const spec = (proposed.spec ?? {}) as Json;
  if (spec.clusterIP === undefined || spec.clusterIP === '') {
    return {
      ...proposed,
      spec: { ...spec, clusterIP: stored.clusterIP, clusterIPs: stored.clusterIPs },
    };
  }
  if (spec.clusterIP !== stored.clusterIP) {
    throw invalid(type, current.metadata?.name ?? '', [
      {
        field: 'spec.clusterIPs[0]',
        type: 'FieldValueInvalid',
        message: `spec.clusterIPs[0]: Invalid value: []string{${JSON.stringify(spec.clusterIP)}}: may not change once set`,
      },
    ]);
  }
  return proposed;
}

/** A pod marked for graceful deletion: it goes `grace` seconds from now at the latest. */
function markedForGracefulDeletion(current: KubeObject, grace: number): KubeObject {
  const deadline = new Date(Date.now() + grace * 1000);
  return {
    ...current,
    metadata: {
      ...current.metadata,
      deletionTimestamp: `${deadline.toISOString().slice(0, 19)}Z`,
      deletionGracePeriodSeconds: grace,
    },
  };
}

export const crdKey = 'apiextensions.k8s.io/customresourcedefinitions';
export const namespaceKey = '/namespaces';
export const crdCleanupFinalizer = 'customresourcecleanup.apiextensions.k8s.io';

type Json = Record<string, unknown>;

/** The finalizers a delete leaves: the object's own, and those its policy or kind add. */
function finalizersOnDelete(key: string, current: KubeObject, options: DeleteOptions): string[] {
  const finalizers = new Set(finalizersOf(current));
  if (options.propagationPolicy === 'Foreground') finalizers.add('foregroundDeletion');
  if (options.propagationPolicy === 'Orphan') finalizers.add('orphan');
  if (key === crdKey) finalizers.add(crdCleanupFinalizer);
  return [...finalizers];
}

/** The object with a deletionTimestamp (a namespace also turns Terminating). */
function markedForDeletion(key: string, current: KubeObject, finalizers: string[]): KubeObject {
  return {
    ...current,
    metadata: {
      ...current.metadata,
      deletionTimestamp: current.metadata?.deletionTimestamp ?? now(),
      deletionGracePeriodSeconds: 0,
      ...(finalizers.length > 0 ? { finalizers } : {}),
    },
    ...(key === namespaceKey
      ? { status: { ...(current.status as Json | undefined), phase: 'Terminating' } }
      : {}),
  };
}

/** A resourceVersion an update carries must be the stored one (optimistic concurrency). */
function checkResourceVersion(type: ResourceType, current: KubeObject, proposed: KubeObject): void {
  const expected = proposed.metadata?.resourceVersion;
  if (expected && expected !== current.metadata?.resourceVersion) {
    throw storageError(
      new StorageConflict('Conflict', 'stale'),
      type,
      current.metadata?.name ?? '',
    );
  }
}

/** An update's metadata: what the server owns comes from the stored object. */
function keptMetadata(type: ResourceType, current: KubeObject, proposed: KubeObject): Json {
  const stored = current.metadata ?? {};
  const metadata: Json = {
    ...proposed.metadata,
    name: stored.name,
    uid: stored.uid,
    creationTimestamp: stored.creationTimestamp,
    generation: stored.generation,
    resourceVersion: stored.resourceVersion,
    deletionTimestamp: stored.deletionTimestamp,
    deletionGracePeriodSeconds: stored.deletionGracePeriodSeconds,
  };
  if (type.namespaced) metadata.namespace = stored.namespace;
  if (!stored.deletionTimestamp) {
    delete metadata.deletionTimestamp;
    delete metadata.deletionGracePeriodSeconds;
  }
  return metadata;
}

/** Metadata the server owns: a create's body cannot set it. */
const serverOwnedMetadata = [
  'resourceVersion',
  'uid',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'generation',
];

function userAndDryRun(context: WriteContext): { user?: UserInfo; dryRun?: boolean } {
  return {
    ...(context.user ? { user: context.user } : {}),
    ...(context.dryRun ? { dryRun: true } : {}),
  };
}

/** A create's body must be for this kind and namespace. */
function checkCreateBody(type: ResourceType, namespace: string, object: KubeObject): void {
  const bodyNamespace = object.metadata?.namespace;
  if (type.namespaced && bodyNamespace && bodyNamespace !== namespace) {
    throw new KubeStatusError(
      'BadRequest',
      400,
      'the namespace of the provided object does not match the namespace sent on the request',
    );
  }
  if (object.kind && object.kind !== type.kind) {
    throw new KubeStatusError(
      'BadRequest',
      400,
      `the kind in the data (${object.kind}) does not match the expected kind (${type.kind})`,
    );
  }
}

/** `metadata.name`, or `generateName` and a random suffix; neither is 422. */
function nameForCreate(type: ResourceType, object: KubeObject): string {
  const generateName = object.metadata?.generateName;
  const name =
    object.metadata?.name ||
    (typeof generateName === 'string' && generateName ? `${generateName}${randomSuffix()}` : '');
  if (name) return name;
  throw invalid(type, '', [
    {
      field: 'metadata.name',
      type: 'FieldValueRequired',
      message: 'metadata.name: Required value: name or generateName is required',
    },
  ]);
}

const nameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(): string {
  return [...randomBytes(5)].map((byte) => nameAlphabet[byte % nameAlphabet.length]).join('');
}

export const now = (): string => kubeTimestamp();

/** Everything of an object but its metadata and status: what `generation` counts changes of. */
function specPart(object: KubeObject): string {
  const rest: Json = { ...object };
  delete rest.metadata;
  delete rest.status;
  delete rest.apiVersion;
  delete rest.kind;
  return JSON.stringify(rest);
}

function sameContent(a: KubeObject, b: KubeObject): boolean {
  const strip = (object: KubeObject) =>
    JSON.stringify({
      ...object,
      metadata: { ...object.metadata, resourceVersion: undefined, managedFields: undefined },
    });
  return strip(a) === strip(b);
}

/** The QoS class of a pod from its containers' requests and limits. */
function qosClassOf(pod: KubeObject): string {
  const containers = ((pod.spec as Json | undefined)?.containers ?? []) as Json[];
  const resources = containers.map((container) => (container.resources ?? {}) as Json);
  const set = (value: unknown) =>
    typeof value === 'object' && value !== null && Object.keys(value).length > 0;
  if (resources.every((r) => !set(r.requests) && !set(r.limits))) return 'BestEffort';
  const guaranteed = resources.every((r) => {
    const limits = (r.limits ?? {}) as Json;
    const requests = { ...limits, ...((r.requests ?? {}) as Json) };
    return (
      ['cpu', 'memory'].every((name) => limits[name] !== undefined) &&
      Object.entries(requests).every(([name, value]) => limits[name] === value)
    );
  });
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** The status an object starts with (most kinds ignore a status sent with a create). */
function initialStatus(key: string, object: KubeObject): unknown {
  switch (key) {
    case '/pods':
      return { phase: 'Pending', qosClass: qosClassOf(object) };
    case namespaceKey:
      return { phase: 'Active' };
    case '/nodes':
      return object.status;
    case crdKey:
      return crdStatus(object);
    case 'apps/deployments':
    case 'apps/replicasets':
    case 'apps/daemonsets':
      return {};
    default:
      return undefined;
  }
}

function withStatus(object: KubeObject, status: unknown): KubeObject {
  const result: KubeObject = { ...object };
  if (status === undefined) delete result.status;
  else result.status = status;
  return result;
}

function finalizersOf(object: KubeObject): string[] {
  return Array.isArray(object.metadata?.finalizers) ? (object.metadata.finalizers as string[]) : [];
}

/** Finalizers that hold a deleted object: its own, and a namespace's `spec.finalizers`. */
function pendingFinalizers(key: string, object: KubeObject): string[] {
  const spec = (object.spec ?? {}) as Json;
  const specFinalizers =
    key === namespaceKey && Array.isArray(spec.finalizers) ? (spec.finalizers as string[]) : [];
  return [...finalizersOf(object), ...specFinalizers];
}

function withTypeMeta(object: KubeObject, type: ResourceType): KubeObject {
  return { ...object, apiVersion: apiVersionOf(type), kind: type.kind };
}

/** The writes of the store; a dry run checks them the same way and keeps nothing. */
type ObjectWrites = Pick<KubeStore, 'create' | 'update' | 'delete'>;

class DryRunWrites implements ObjectWrites {
  constructor(private readonly store: KubeStore) {}

  create(resource: string, namespace: string, name: string, object: KubeObject): KubeObject {
    if (this.store.get(resource, namespace, name)) {
      throw new StorageConflict('AlreadyExists', `"${name}" already exists`);
    }
    return createdObject(object, namespace, name);
  }

  update(
    resource: string,
    namespace: string,
    name: string,
    object: KubeObject,
    expected?: string,
  ): KubeObject {
    const current = checkedCurrent(this.store.get(resource, namespace, name), name, expected);
    return { ...object, metadata: { ...object.metadata, uid: current.metadata?.uid } };
  }

  delete(resource: string, namespace: string, name: string, expected?: string): KubeObject {
    return checkedCurrent(this.store.get(resource, namespace, name), name, expected);
  }
}

/** How many times a write that lost a race (its object changed meanwhile) is recomputed. */
const attemptsOnConflict = 5;

function isConflict(error: unknown): boolean {
  return error instanceof KubeStatusError && error.reason === 'Conflict';
}

export class ObjectWriter {
  readonly #dryRun: DryRunWrites;

  constructor(
    readonly store: KubeStore,
    private readonly webhooks?: WebhookAdmission,
    /** Where Services' ClusterIPs come from (EKS: 10.100.0.0/16 for a 192.168.0.0/16 VPC). */
    readonly serviceCidr = defaultServiceCidr,
  ) {
    this.#dryRun = new DryRunWrites(store);
  }

  #writes(dryRun: boolean | undefined): ObjectWrites {
    return dryRun ? this.#dryRun : this.store;
  }

  /** Admission of a create or update: defaults, pruning and validation, or 422 / 400. */
  #admit(type: ResourceType, object: KubeObject, context: WriteContext): KubeObject {
    const key = storageKeyOf(type);
    const name = object.metadata?.name ?? '';
    let admitted = object;
    const errors: FieldError[] = [];
    if (type.custom) {
      const { pruned, unknownFields } = type.custom.schema.prune(object);
      if (unknownFields.length > 0 && context.fieldValidation === 'Strict') {
        throw new KubeStatusError(
          'BadRequest',
          400,
          `${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: strict decoding error: ${unknownFields.map((field) => `unknown field "${field}"`).join(', ')}`,
        );
      }
      if (context.fieldValidation !== 'Ignore') {
        context.warnings?.push(...unknownFields.map((field) => `unknown field "${field}"`));
      }
      admitted = structuredClone(pruned);
      errors.push(...type.custom.schema.defaultAndValidate(admitted));
    } else {
      admitted = key === crdKey ? defaultedCrd(object) : defaultedBuiltin(key, object);
      errors.push(...(key === crdKey ? validateCrd(admitted) : validateBuiltin(key, admitted)));
    }
    errors.unshift(...validateMetadata(key, admitted));
    if (errors.length > 0) throw invalid(type, name, errors);
    return admitted;
  }

  #requireWritableNamespace(type: ResourceType, namespace: string, name: string): void {
    if (!type.namespaced) return;
    const found = this.store.get(namespaceKey, '', namespace);
    if (!found) {
      throw new KubeStatusError('NotFound', 404, `namespaces "${namespace}" not found`, {
        name: namespace,
        kind: 'namespaces',
      });
    }
    if (found.metadata?.deletionTimestamp) {
      throw new KubeStatusError(
        'Forbidden',
        403,
        `${qualifiedResource(type)} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        { name, group: type.group || undefined, kind: type.resource },
      );
    }
  }

  async create(
    type: ResourceType,
    namespace: string,
    object: KubeObject,
    context: WriteContext = {},
  ): Promise<KubeObject> {
    checkCreateBody(type, namespace, object);
    const name = nameForCreate(type, object);
    this.#requireWritableNamespace(type, namespace, name);
    const key = storageKeyOf(type);
    const prepare = (candidate: KubeObject) => {
      const metadata: Json = Object.fromEntries(
        Object.entries({ ...candidate.metadata, name }).filter(
          ([field]) => !serverOwnedMetadata.includes(field) && field !== 'namespace',
        ),
      );
      if (type.namespaced) metadata.namespace = namespace;
      return this.#admit(type, { ...candidate, metadata }, context);
    };
    let admitted = prepare(object);
    if (this.webhooks) {
      const attributes = {
        operation: 'CREATE' as const,
        type,
        namespace,
        name,
        ...userAndDryRun(context),
      };
      const mutated = await this.webhooks.mutate({
        ...attributes,
        object: withTypeMeta(admitted, type),
      });
      if (mutated && JSON.stringify(mutated) !== JSON.stringify(withTypeMeta(admitted, type))) {
        admitted = prepare(mutated);
      }
      await this.webhooks.validate({ ...attributes, object: withTypeMeta(admitted, type) });
    }
    if (key === serviceKey) admitted = this.#withClusterIp(type, admitted, name);
    if (!context.applied) admitted = this.#withManagedFields(type, undefined, admitted, context);
    const stored = type.subresources?.includes('status')
      ? withStatus(admitted, type.custom ? undefined : initialStatus(key, admitted))
      : admitted;
    try {
      return withTypeMeta(
        this.#writes(context.dryRun).create(key, namespace, name, this.#forStorage(stored, type)),
        type,
      );
    } catch (error) {
      throw storageError(error, type, name);
    }
  }

  /** The object with the fields this write changed owned by its manager. */
  #withManagedFields(
    type: ResourceType,
    previous: KubeObject | undefined,
    next: KubeObject,
    context: WriteContext,
    subresource?: string,
  ): KubeObject {
    const typed = withTypeMeta(next, type);
    const managedFields = afterUpdate(
      previous,
      typed,
      storageKeyOf(type),
      context.fieldManager ?? 'unknown',
      subresource,
    );
    const metadata: Json = { ...next.metadata, managedFields };
    if (managedFields.length === 0) delete metadata.managedFields;
    return { ...next, metadata };
  }

  /** Stored custom resources carry their storage version; reads rewrite it (conversion None). */
  #forStorage(object: KubeObject, type: ResourceType): KubeObject {
    return type.custom
      ? { ...object, apiVersion: apiVersionOf({ ...type, version: type.custom.storageVersion }) }
      : withTypeMeta(object, type);
  }

  /**
   * An update (PUT, or a patch already applied): `compute` gets the stored object and gives the
   * next one. A changed `metadata.resourceVersion` is a precondition (409 Conflict when stale).
   * On the main resource the status is kept; on `status` only the status changes.
   */
  async update(
    type: ResourceType,
    namespace: string,
    name: string,
    compute: (current: KubeObject) => KubeObject,
    options: { subresource?: string; context?: WriteContext } = {},
  ): Promise<KubeObject> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#updateOnce(type, namespace, name, compute, options);
      } catch (error) {
        // Lost a race with another write while webhooks were called: start again from the
        // stored object, unless the caller named the version it meant (then it is theirs).
        if (
          !isConflict(error) ||
          attempt >= attemptsOnConflict ||
          !(error as { retriable?: boolean }).retriable
        ) {
          throw error;
        }
      }
    }
  }

  async #updateOnce(
    type: ResourceType,
    namespace: string,
    name: string,
    compute: (current: KubeObject) => KubeObject,
    options: { subresource?: string; context?: WriteContext },
  ): Promise<KubeObject> {
    const key = storageKeyOf(type);
    const current = this.store.get(key, namespace, name);
    if (!current) throw notFound(type, name);
    const view = withTypeMeta(current, type);
    const computed = compute(view);
    const proposed = key === serviceKey ? keptClusterIp(type, view, computed) : computed;
    checkResourceVersion(type, current, proposed);
    let next = this.#nextVersion(type, view, proposed, options);
    if (sameContent(next, view)) return view;
    next = await this.#admissionOnUpdate(type, view, next, options);
    if (sameContent(next, view)) return view;
    const version = current.metadata?.resourceVersion;
    const writes = this.#writes(options.context?.dryRun);
    try {
      const written =
        next.metadata?.deletionTimestamp &&
        !next.metadata.deletionGracePeriodSeconds &&
        pendingFinalizers(key, next).length === 0
          ? writes.delete(key, namespace, name, version)
          : writes.update(key, namespace, name, this.#forStorage(next, type), version);
      return withTypeMeta(written, type);
    } catch (error) {
      const answered = storageError(error, type, name);
      if (isConflict(answered) && !proposed.metadata?.resourceVersion) {
        Object.assign(answered as object, { retriable: true });
      }
      throw answered;
    }
  }

  /** Webhooks, then field ownership, on an update: the object to store. */
  async #admissionOnUpdate(
    type: ResourceType,
    view: KubeObject,
    next: KubeObject,
    options: { subresource?: string; context?: WriteContext },
  ): Promise<KubeObject> {
    const admitted = this.webhooks
      ? await this.#webhooksOnUpdate(this.webhooks, type, view, next, options)
      : next;
    return options.context?.applied
      ? admitted
      : this.#withManagedFields(type, view, admitted, options.context ?? {}, options.subresource);
  }

  /** Mutating then validating webhooks on an update; returns the object to store. */
  async #webhooksOnUpdate(
    webhooks: WebhookAdmission,
    type: ResourceType,
    view: KubeObject,
    next: KubeObject,
    options: { subresource?: string; context?: WriteContext },
  ): Promise<KubeObject> {
    const attributes = {
      operation: 'UPDATE' as const,
      type,
      namespace: view.metadata?.namespace ?? '',
      name: view.metadata?.name ?? '',
      ...(options.subresource ? { subresource: options.subresource } : {}),
      oldObject: view,
      ...userAndDryRun(options.context ?? {}),
    };
    let admitted = next;
    const mutated = await webhooks.mutate({ ...attributes, object: next });
    if (mutated && JSON.stringify(mutated) !== JSON.stringify(next)) {
      admitted = this.#nextVersion(type, view, mutated, options);
    }
    await webhooks.validate({ ...attributes, object: admitted });
    return admitted;
  }

  #nextVersion(
    type: ResourceType,
    current: KubeObject,
    proposed: KubeObject,
    options: { subresource?: string; context?: WriteContext },
  ): KubeObject {
    const key = storageKeyOf(type);
    if (options.subresource === 'status') return withStatus(current, proposed.status);
    const hasStatus = type.subresources?.includes('status') ?? false;
    const metadata = keptMetadata(type, current, proposed);
    let next = this.#admit(
      type,
      withTypeMeta({ ...proposed, metadata }, type),
      options.context ?? {},
    );
    if (hasStatus) next = withStatus(next, current.status);
    // A namespace's finalizers change only through finalisation (`finalizeNamespace`).
    if (key === namespaceKey) next = { ...next, spec: current.spec };
    if (key === crdKey) next = withStatus(next, crdStatus(next, current));
    if (specPart(next) !== specPart(current)) {
      next = {
        ...next,
        metadata: { ...next.metadata, generation: (current.metadata?.generation ?? 1) + 1 },
      };
    }
    return next;
  }

  /**
   * A delete: preconditions, then either the object goes, or — when finalizers remain (its
   * own, or the ones a propagation policy or a namespace or CRD adds) — it gets a
   * `deletionTimestamp` and the finalisers finish the job. Returns what the response shows.
   */
  async delete(
    type: ResourceType,
    namespace: string,
    name: string,
    options: DeleteOptions = {},
  ): Promise<KubeObject> {
    const key = storageKeyOf(type);
    const current = this.store.get(key, namespace, name);
    if (!current) throw notFound(type, name);
    this.#checkPreconditions(type, current, options);
    if (this.webhooks) {
      await this.webhooks.validate({
        operation: 'DELETE',
        type,
        namespace,
        name,
        oldObject: withTypeMeta(current, type),
        ...(options.user ? { user: options.user } : {}),
        ...(options.dryRun ? { dryRun: true } : {}),
      });
    }
    const latest = this.store.get(key, namespace, name);
    if (!latest) throw notFound(type, name);
    const finalizers = finalizersOnDelete(key, latest, options);
    const version = latest.metadata?.resourceVersion;
    const writes = this.#writes(options.dryRun);
    const grace = podGracePeriod(key, latest, options, (node) =>
      Boolean(this.store.get('/nodes', '', node)),
    );
    try {
      if (grace !== undefined) {
        return withTypeMeta(this.#deleteGracefully(writes, latest, grace), type);
      }
      if (finalizers.length === 0 && key !== namespaceKey) {
        return withTypeMeta(writes.delete(key, namespace, name, version), type);
      }
      if (latest.metadata?.deletionTimestamp && finalizers.length === finalizersOf(latest).length) {
        return withTypeMeta(latest, type);
      }
      const marked = markedForDeletion(key, latest, finalizers);
      return withTypeMeta(writes.update(key, namespace, name, marked, version), type);
    } catch (error) {
      throw storageError(error, type, name);
    }
  }

  /** A new Service's ClusterIP: the one it asks for if free and in range, else the next free. */
  #withClusterIp(type: ResourceType, service: KubeObject, name: string): KubeObject {
    const spec = (service.spec ?? {}) as Json;
    if (spec.type === 'ExternalName' || spec.clusterIP === 'None') {
      return spec.clusterIP === 'None'
        ? { ...service, spec: { ...spec, clusterIPs: ['None'] } }
        : service;
    }
    const taken = new Set(
      this.store
        .list(serviceKey)
        .items.map((other) => (other.spec as Json | undefined)?.clusterIP)
        .filter((ip): ip is string => typeof ip === 'string'),
    );
    const requested =
      typeof spec.clusterIP === 'string' && spec.clusterIP !== '' ? spec.clusterIP : undefined;
    const allocation = allocateClusterIp(requested, this.serviceCidr, taken);
    if (!allocation.ok) throw invalid(type, name, [allocation.error]);
    return {
      ...service,
      spec: { ...spec, clusterIP: allocation.clusterIp, clusterIPs: [allocation.clusterIp] },
    };
  }

  /** A pod's graceful deletion: marked (a shorter grace wins), its kubelet finishes it. */
  #deleteGracefully(writes: ObjectWrites, pod: KubeObject, grace: number): KubeObject {
    const { namespace = '', name = '', resourceVersion } = pod.metadata ?? {};
    const marked = pod.metadata?.deletionGracePeriodSeconds;
    if (pod.metadata?.deletionTimestamp && typeof marked === 'number' && marked <= grace)
      return pod;
    return writes.update(
      podKey,
      namespace,
      name,
      markedForGracefulDeletion(pod, grace),
      resourceVersion,
    );
  }

  #checkPreconditions(type: ResourceType, current: KubeObject, options: DeleteOptions): void {
    const { uid, resourceVersion } = options.preconditions ?? {};
    const name = current.metadata?.name ?? '';
    if (uid && uid !== current.metadata?.uid) {
      throw new KubeStatusError(
        'Conflict',
        409,
        `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": Precondition failed: UID in precondition: ${uid}, UID in object meta: ${String(current.metadata?.uid)}`,
      );
    }
    if (resourceVersion && resourceVersion !== current.metadata?.resourceVersion) {
      throw new KubeStatusError(
        'Conflict',
        409,
        `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": Precondition failed: ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${String(current.metadata?.resourceVersion)}`,
      );
    }
  }

  /**
   * The namespace finaliser's last step (the `finalize` subresource): `kubernetes` leaves
   * `spec.finalizers`, and the namespace goes when nothing else holds it.
   */
  finalizeNamespace(type: ResourceType, name: string): void {
    const current = this.store.get(namespaceKey, '', name);
    if (!current?.metadata?.deletionTimestamp) return;
    const spec = (current.spec ?? {}) as Json;
    const finalized: KubeObject = {
      ...current,
      spec: {
        ...spec,
        finalizers: ((spec.finalizers ?? []) as string[]).filter((value) => value !== 'kubernetes'),
      },
    };
    try {
      if (pendingFinalizers(namespaceKey, finalized).length === 0) {
        this.store.delete(namespaceKey, '', name, current.metadata.resourceVersion);
      } else {
        this.store.update(namespaceKey, '', name, finalized, current.metadata.resourceVersion);
      }
    } catch (error) {
      throw storageError(error, type, name);
    }
  }

  /** Removes one finalizer (the finalisers' last step; the object goes when none remain). */
  async removeFinalizer(
    type: ResourceType,
    namespace: string,
    name: string,
    finalizer: string,
    context: WriteContext = {},
  ): Promise<void> {
    await this.update(
      type,
      namespace,
      name,
      (current) => ({
        ...current,
        metadata: {
          ...current.metadata,
          finalizers: finalizersOf(current).filter((value) => value !== finalizer),
        },
      }),
      { context },
    );
  }
}
