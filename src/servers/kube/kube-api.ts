/**
 * The API server's HTTP layer: authentication, discovery and OpenAPI, and for every served
 * resource get / list / watch / create / update / patch / delete / deletecollection and the
 * `status` subresource, with Table output for `kubectl get`. Writes go through ObjectWriter;
 * what kubectl and @kubernetes/client-node send and need is recorded in reference/kubectl.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KubeStatusError } from '../../core/errors.js';
import type { AccessControl } from './access-control.js';
import { WebhookAdmission, type ServiceResolver } from './admission-webhooks.js';
import type { UserInfo } from './authentication.js';
import { bootstrapPolicy, rbacGroup, type RequestAttributes } from './authorization.js';
import { resourceTypesOf, validateCrd } from './custom-resources.js';
import { discoveryDocument } from './discovery.js';
import { openApiDocument } from './open-api.js';
import {
  apiVersionOf,
  ResourceRegistry,
  storageKeyOf,
  type ResourceType,
} from './kube-resources.js';
import {
  crdKey,
  now,
  ObjectWriter,
  type DeleteOptions,
  type FieldValidation,
  type WriteContext,
} from './object-writes.js';
import { serverSideApply } from './managed-fields.js';
import { servePodLog } from './pod-logs.js';
import { mergePatch, patchFunctionOf } from './patches.js';
import {
  bodyObject,
  deleteOptionsOf,
  mediaTypeOf,
  parseYamlObject,
  readBody,
} from './request-body.js';
import { strategicMergePatch } from './strategic-merge-patch.js';
import { fieldMatcher, labelMatcher } from './selectors.js';
import { methodNotAllowed, notFound, resourceNotFound, statusBody } from './status-errors.js';
import type { ServiceAccountTokens } from './service-account-tokens.js';
import {
  kubeTimestamp,
  type Change,
  type KubeObject,
  type KubeStore,
} from './storage/kube-store.js';
import { selectorText, tableOf, wantsTable, type IncludeObject } from './tables.js';

/** The Kubernetes version served: kubectl's dispatcher runs the matching kubectl (1.32). */
export const servedVersion = { major: '1', minor: '32', gitVersion: 'v1.32.0' } as const;
export const initialNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export interface KubeApiOptions {
  /** Where the kubelets write container logs (`pods/<name>/log` reads them). */
  readonly podLogDirectory?: string;
  /** Where admission webhooks' services are reachable (none: such webhooks cannot be called). */
  readonly resolveService?: ServiceResolver;
  /** How often a watch with `allowWatchBookmarks=true` gets a BOOKMARK (the real one: ~1 min). */
  readonly bookmarkIntervalMs?: number;
}

/** A request path resolved to a resource, a scope and maybe an object and a subresource. */
interface Target {
  readonly type: ResourceType;
  readonly namespace: string;
  readonly name?: string;
  readonly subresource?: string;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}

function withTypeMeta(object: KubeObject, type: ResourceType): KubeObject {
  return { ...object, apiVersion: apiVersionOf(type), kind: type.kind };
}

function fieldValidationOf(query: URLSearchParams): FieldValidation {
  const value = query.get('fieldValidation');
  if (value === null || value === '') return 'Warn';
  if (value === 'Strict' || value === 'Warn' || value === 'Ignore') return value;
  throw new KubeStatusError(
    'BadRequest',
    400,
    `fieldValidation must be one of "Ignore", "Warn", "Strict", got ${JSON.stringify(value)}`,
  );
}

const applyPatchMediaType = 'application/apply-patch+yaml';

/** `fieldManager`, or the client's name from its User-Agent (`kubectl/v1.32.4 …` → kubectl). */
function fieldManagerOf(query: URLSearchParams, request: IncomingMessage): string {
  const named = query.get('fieldManager');
  if (named) return named;
  return (request.headers['user-agent'] ?? '').split('/')[0]?.trim() || 'unknown';
}

/** `dryRun=All` (the only value Kubernetes accepts), or none. */
function dryRunOf(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun');
  if (values.length === 0) return false;
  if (values.every((value) => value === 'All')) return true;
  throw new KubeStatusError(
    'BadRequest',
    400,
    `dryRun: Unsupported value: ${JSON.stringify(values.find((value) => value !== 'All'))}: supported values: "All"`,
  );
}

function includeObjectOf(query: URLSearchParams): IncludeObject {
  const value = query.get('includeObject');
  return value === 'None' || value === 'Object' ? value : 'Metadata';
}

/** `gracePeriodSeconds` of a delete (body or query), checked to be an integer. */
function gracePeriodOf(body: Record<string, unknown>, query: URLSearchParams): number | undefined {
  const grace: unknown = body.gracePeriodSeconds ?? query.get('gracePeriodSeconds') ?? undefined;
  if (grace === undefined) return undefined;
  const seconds = Number(grace);
  if (!Number.isInteger(seconds)) {
    throw new KubeStatusError(
      'BadRequest',
      400,
      `gracePeriodSeconds: Invalid value: ${JSON.stringify(grace)}: must be an integer`,
    );
  }
  return seconds;
}

function deleteOptionsFrom(body: Record<string, unknown>, query: URLSearchParams): DeleteOptions {
  const policy: unknown = body.propagationPolicy ?? query.get('propagationPolicy') ?? undefined;
  if (
    policy !== undefined &&
    !(typeof policy === 'string' && ['Background', 'Foreground', 'Orphan'].includes(policy))
  ) {
    throw new KubeStatusError(
      'Invalid',
      422,
      `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan", "nil"`,
    );
  }
  const orphan = body.orphanDependents === true ? 'Orphan' : undefined;
  const dryRun = Array.isArray(body.dryRun) ? body.dryRun.includes('All') : dryRunOf(query);
  const gracePeriodSeconds = gracePeriodOf(body, query);
  return {
    ...(dryRun ? { dryRun } : {}),
    ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
    ...((policy ?? orphan) ? { propagationPolicy: (policy ?? orphan) as 'Background' } : {}),
    ...(body.preconditions ? { preconditions: body.preconditions } : {}),
  };
}

export class KubeApi {
  readonly registry = new ResourceRegistry();
  readonly writer: ObjectWriter;
  /** Open watch streams: ended cleanly at shutdown, so clients re-watch from their last version. */
  readonly #watches = new Set<ServerResponse>();
  readonly #bookmarkIntervalMs: number;
  readonly #podLogDirectory: string;

  constructor(
    readonly store: KubeStore,
    readonly access: AccessControl,
    private readonly serviceAccountTokens: ServiceAccountTokens,
    options: KubeApiOptions = {},
  ) {
    this.writer = new ObjectWriter(store, new WebhookAdmission(store, options.resolveService));
    this.#bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000;
    this.#podLogDirectory = options.podLogDirectory ?? 'pod-logs';
    this.refreshCustomResources();
    store.subscribe((change) => {
      if (change.resource === crdKey) this.refreshCustomResources();
    });
  }

  /** Serves the custom resources of every valid CRD stored. */
  refreshCustomResources(): void {
    const types = this.store
      .list(crdKey)
      .items.filter((crd) => validateCrd(crd).length === 0)
      .flatMap((crd) => resourceTypesOf(crd));
    this.registry.setCustomResources(types);
  }

  endWatches(): void {
    for (const response of this.#watches) response.end();
    this.#watches.clear();
  }

  /** The RBAC roles and bindings every cluster starts with (kept when already there). */
  async ensureBootstrapPolicy(): Promise<void> {
    for (const { resource, object } of bootstrapPolicy) {
      const type = this.registry.find(rbacGroup, 'v1', resource);
      const name = object.metadata?.name ?? '';
      if (type && !this.store.get(`${rbacGroup}/${resource}`, '', name)) {
        await this.writer.create(type, '', object);
      }
    }
  }

  /** The namespaces every cluster has. */
  async ensureInitialNamespaces(): Promise<void> {
    const type = this.registry.find('', 'v1', 'namespaces');
    for (const name of initialNamespaces) {
      if (type && !this.store.get('/namespaces', '', name)) {
        await this.writer.create(type, '', { metadata: { name } });
      }
    }
  }

  /** `/api/v1/...` or `/apis/<g>/<v>/...` → the resource, namespace, name and subresource. */
  target(path: string): Target | undefined {
    const parsed = groupVersionOf(path);
    if (!parsed) return undefined;
    const { group, version } = parsed;
    let rest = parsed.rest;
    let namespace = '';
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1] ?? '';
      rest = rest.slice(2);
    }
    const [resource, name, subresource] = rest;
    if (!resource || rest.length > 3) return undefined;
    const type = this.registry.find(group, version, resource);
    if (!type) return undefined;
    // `/api/v1/namespaces/<name>` names a namespace object, not a scope.
    if (!type.namespaced && namespace) return undefined;
    if (subresource && !(type.subresources ?? []).includes(subresource)) return undefined;
    return { type, namespace, ...(name ? { name } : {}), ...(subresource ? { subresource } : {}) };
  }

  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = requestUrl(request);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/version') {
      sendJson(response, 200, versionBody());
      return;
    }
    if (['/healthz', '/readyz', '/livez'].includes(path)) {
      response.writeHead(200, { 'Content-Type': 'text/plain' });
      response.end('ok');
      return;
    }
    const user = await this.access.authenticate(request);
    const document =
      (await openApiDocument(this.registry, path)) ?? discoveryDocument(this.registry, path);
    if (document !== undefined) {
      this.access.authorizer.require(user, { kind: 'nonResource', verb: 'get', path });
      sendJson(response, 200, document);
      return;
    }
    const target = this.target(path);
    if (!target) throw resourceNotFound();
    const query = url.searchParams;
    const watch = ['true', '1'].includes(query.get('watch') ?? '');
    this.access.authorizer.require(
      user,
      attributesOf(target, request.method ?? 'GET', watch, query.get('fieldSelector')),
    );
    if (target.subresource === 'log') {
      this.#serveLog(target, request, query, response);
      return;
    }
    if (request.method === 'GET' && watch && !target.subresource) {
      this.#watch(target, query, request, response);
      return;
    }
    const warnings: string[] = [];
    const answer = await this.#serve(target, request, query, { user, warnings });
    sendJson(
      response,
      answer.status,
      answer.body,
      warnings.length > 0
        ? { Warning: warnings.map((warning) => `299 - ${JSON.stringify(warning)}`) }
        : {},
    );
  }

  /** `pods/<name>/log`: the container log the kubelet wrote (pod-logs.ts). */
  #serveLog(
    target: Target,
    request: IncomingMessage,
    query: URLSearchParams,
    response: ServerResponse,
  ): void {
    if (request.method !== 'GET' || !target.name) throw methodNotAllowed();
    const pod = this.store.get('/pods', target.namespace, target.name);
    if (!pod) throw notFound(target.type, target.name);
    servePodLog({
      store: this.store,
      directory: this.#podLogDirectory,
      pod,
      query,
      request,
      response,
    });
  }

  #selected(
    target: Target,
    query: URLSearchParams,
  ): { items: KubeObject[]; resourceVersion: string } {
    const listed = this.store.list(
      storageKeyOf(target.type),
      target.type.namespaced && target.namespace ? target.namespace : undefined,
    );
    const fields = fieldMatcher(query.get('fieldSelector'));
    const labels = labelMatcher(query.get('labelSelector'));
    return {
      items: listed.items
        .filter((item) => fields(item) && labels(item))
        .map((item) => withTypeMeta(item, target.type)),
      resourceVersion: String(listed.resourceVersion),
    };
  }

  #list(target: Target, request: IncomingMessage, query: URLSearchParams): unknown {
    const { items, resourceVersion } = this.#selected(target, query);
    if (wantsTable(request.headers.accept)) {
      return tableOf(
        target.type,
        storageKeyOf(target.type),
        items,
        resourceVersion,
        includeObjectOf(query),
      );
    }
    return {
      kind: target.type.listKind ?? `${target.type.kind}List`,
      apiVersion: apiVersionOf(target.type),
      metadata: { resourceVersion },
      items,
    };
  }

  async #serve(
    target: Target,
    request: IncomingMessage,
    query: URLSearchParams,
    context: { user: UserInfo; warnings: string[] },
  ): Promise<Answer> {
    const method = request.method ?? 'GET';
    if (target.type.kind === 'SelfSubjectReview') {
      if (method !== 'POST' || target.name) throw methodNotAllowed();
      return { status: 201, body: selfSubjectReview(context.user) };
    }
    if (target.type.kind === 'SelfSubjectAccessReview') {
      if (method !== 'POST' || target.name) throw methodNotAllowed();
      const review = await bodyObject(request);
      return { status: 201, body: this.#accessReview(review, context.user) };
    }
    const posted = await this.#servePostSubresource(target, request, context);
    if (posted) return posted;
    const write: WriteContext = {
      ...context,
      fieldValidation: fieldValidationOf(query),
      dryRun: dryRunOf(query),
      fieldManager: fieldManagerOf(query, request),
    };
    if (!target.name) {
      switch (method) {
        case 'GET':
          return { status: 200, body: this.#list(target, request, query) };
        case 'POST':
          return {
            status: 201,
            body: await this.writer.create(
              target.type,
              target.namespace,
              await bodyObject(request),
              write,
            ),
          };
        case 'DELETE':
          return {
            status: 200,
            body: await this.#deleteCollection(target, request, query, context.user),
          };
        default:
          throw methodNotAllowed();
      }
    }
    return this.#serveObject(target, target.name, request, query, write);
  }

  async #serveObject(
    target: Target,
    name: string,
    request: IncomingMessage,
    query: URLSearchParams,
    context: WriteContext,
  ): Promise<Answer> {
    const { type, namespace, subresource } = target;
    if (subresource === 'scale') return this.#serveScale(target, name, request, context);
    switch (request.method ?? 'GET') {
      case 'GET':
        return { status: 200, body: this.#getObject(target, name, request, query) };
      case 'PUT': {
        const object = await bodyObject(request);
        const options = { context, ...(subresource ? { subresource } : {}) };
        return {
          status: 200,
          body: await this.writer.update(type, namespace, name, () => object, options),
        };
      }
      case 'PATCH': {
        if (mediaTypeOf(request) === applyPatchMediaType) {
          return this.#serverSideApply(target, name, request, query, context);
        }
        const apply = patchFunctionOf(
          mediaTypeOf(request),
          (await readBody(request)).toString('utf8'),
          storageKeyOf(type),
        );
        const options = { context, ...(subresource ? { subresource } : {}) };
        return {
          status: 200,
          body: await this.writer.update(type, namespace, name, apply, options),
        };
      }
      case 'DELETE': {
        if (subresource) throw methodNotAllowed();
        const options = deleteOptionsFrom(await deleteOptionsOf(request), query);
        return {
          status: 200,
          body: await this.writer.delete(type, namespace, name, { ...options, user: context.user }),
        };
      }
      default:
        throw methodNotAllowed();
    }
  }

  /** `pods/<name>/binding` and `serviceaccounts/<name>/token`: POST-only subresources. */
  async #servePostSubresource(
    target: Target,
    request: IncomingMessage,
    context: WriteContext,
  ): Promise<Answer | undefined> {
    const { name, subresource } = target;
    if (!name || (subresource !== 'binding' && subresource !== 'token')) return undefined;
    if (request.method !== 'POST') throw methodNotAllowed();
    const body = await bodyObject(request);
    if (subresource === 'token') {
      return { status: 201, body: await this.#tokenRequest(target, name, body) };
    }
    await this.#bind(target, name, body, context);
    return {
      status: 201,
      body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 },
    };
  }

  /**
   * `pods/<name>/binding` (what the scheduler posts): sets `spec.nodeName` once, then the
   * `PodScheduled` condition, as the binding registry does.
   */
  async #bind(
    target: Target,
    name: string,
    binding: Record<string, unknown>,
    context: WriteContext,
  ): Promise<void> {
    const node = (binding.target as { name?: unknown } | undefined)?.name;
    if (typeof node !== 'string' || node === '') {
      throw new KubeStatusError(
        'Invalid',
        422,
        `Binding.core "${name}" is invalid: target.name: Required value`,
      );
    }
    const update = (subresource: string, compute: (pod: KubeObject) => KubeObject) =>
      this.writer.update(target.type, target.namespace, name, compute, { context, subresource });
    await update('binding', (pod) => {
      const spec = (pod.spec ?? {}) as Record<string, unknown>;
      if (typeof spec.nodeName === 'string' && spec.nodeName !== '') {
        throw new KubeStatusError(
          'Conflict',
          409,
          `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is already assigned to node "${spec.nodeName}"`,
        );
      }
      return { ...pod, spec: { ...spec, nodeName: node } };
    });
    await update('status', (pod) => {
      const status = (pod.status ?? {}) as Record<string, unknown>;
      const conditions = ((status.conditions ?? []) as Record<string, unknown>[]).filter(
        (condition) => condition.type !== 'PodScheduled',
      );
      const scheduled = {
        type: 'PodScheduled',
        status: 'True',
        lastProbeTime: null,
        lastTransitionTime: kubeTimestamp(),
      };
      return { ...pod, status: { ...status, conditions: [...conditions, scheduled] } };
    });
  }

  /** One object, or its one-row Table when kubectl asks for one. */
  #getObject(
    target: Target,
    name: string,
    request: IncomingMessage,
    query: URLSearchParams,
  ): unknown {
    const { type, namespace, subresource } = target;
    const object = this.store.get(storageKeyOf(type), namespace, name);
    if (!object) throw notFound(type, name);
    const typed = withTypeMeta(object, type);
    if (!wantsTable(request.headers.accept) || subresource) return typed;
    return tableOf(
      type,
      storageKeyOf(type),
      [typed],
      typed.metadata?.resourceVersion ?? '',
      includeObjectOf(query),
    );
  }

  /**
   * Server-side apply (`kubectl apply --server-side`): the applied configuration merged with
   * field ownership (managed-fields.ts); creates the object when it does not exist.
   */
  async #serverSideApply(
    target: Target,
    name: string,
    request: IncomingMessage,
    query: URLSearchParams,
    context: WriteContext,
  ): Promise<Answer> {
    const { type, namespace, subresource } = target;
    if (!query.get('fieldManager')) {
      throw new KubeStatusError(
        'Invalid',
        422,
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    }
    const applied = parseYamlObject((await readBody(request)).toString('utf8'));
    if (
      applied.kind !== type.kind ||
      (applied.apiVersion && applied.apiVersion !== apiVersionOf(type))
    ) {
      throw new KubeStatusError(
        'BadRequest',
        400,
        `the apply patch is for ${String(applied.apiVersion)}, Kind=${String(applied.kind)}, not ${apiVersionOf(type)}, Kind=${type.kind}`,
      );
    }
    const key = storageKeyOf(type);
    const merge = (current: KubeObject, configuration: KubeObject): KubeObject =>
      type.custom
        ? (mergePatch(current, configuration) as KubeObject)
        : strategicMergePatch(key, current, configuration);
    const apply = (current: KubeObject | undefined) =>
      serverSideApply({
        current,
        applied: { ...applied, metadata: { ...applied.metadata, name } },
        storageKey: key,
        manager: context.fieldManager ?? '',
        force: query.get('force') === 'true',
        merge,
      });
    const applyContext = { ...context, applied: true };
    if (!this.store.get(key, namespace, name)) {
      return {
        status: 201,
        body: await this.writer.create(type, namespace, apply(undefined), applyContext),
      };
    }
    const options = { context: applyContext, ...(subresource ? { subresource } : {}) };
    return { status: 200, body: await this.writer.update(type, namespace, name, apply, options) };
  }

  /** SelfSubjectAccessReview (`kubectl auth can-i`): RBAC's answer for the caller. */
  #accessReview(review: KubeObject, user: UserInfo): KubeObject {
    const spec = (review.spec ?? {}) as {
      resourceAttributes?: Record<string, string | undefined>;
      nonResourceAttributes?: { path?: string; verb?: string };
    };
    const resource = spec.resourceAttributes;
    const attributes: RequestAttributes = resource
      ? {
          kind: 'resource',
          verb: resource.verb ?? '',
          apiGroup: resource.group ?? '',
          resource: resource.resource ?? '',
          ...(resource.subresource ? { subresource: resource.subresource } : {}),
          namespace: resource.namespace ?? '',
          ...(resource.name ? { name: resource.name } : {}),
        }
      : {
          kind: 'nonResource',
          verb: spec.nonResourceAttributes?.verb ?? '',
          path: spec.nonResourceAttributes?.path ?? '',
        };
    const decision = this.access.authorizer.authorize(user, attributes);
    return {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      metadata: {},
      spec: review.spec ?? {},
      status: {
        allowed: decision.allowed,
        ...(decision.reason ? { reason: decision.reason } : {}),
      },
    };
  }

  /** TokenRequest on `serviceaccounts/<name>/token` (`kubectl create token`). */
  async #tokenRequest(target: Target, name: string, request: KubeObject): Promise<KubeObject> {
    const account = this.store.get('/serviceaccounts', target.namespace, name);
    if (!account) throw notFound(target.type, name);
    const spec = (request.spec ?? {}) as { audiences?: string[]; expirationSeconds?: number };
    if (spec.expirationSeconds !== undefined && spec.expirationSeconds < 600) {
      throw new KubeStatusError(
        'Invalid',
        422,
        `TokenRequest.authentication.k8s.io "${name}" is invalid: spec.expirationSeconds: Invalid value: ${spec.expirationSeconds}: may not specify a duration less than 10 minutes`,
      );
    }
    const minted = await this.serviceAccountTokens.mint(
      { namespace: target.namespace, name, uid: account.metadata?.uid ?? '' },
      {
        ...(spec.expirationSeconds !== undefined
          ? { expirationSeconds: spec.expirationSeconds }
          : {}),
        ...(spec.audiences ? { audiences: spec.audiences } : {}),
      },
    );
    return {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: { name, namespace: target.namespace, creationTimestamp: now() },
      spec: {
        audiences: minted.audiences,
        expirationSeconds: spec.expirationSeconds ?? 3600,
        boundObjectRef: null,
      },
      status: { token: minted.token, expirationTimestamp: minted.expirationTimestamp },
    };
  }

  /**
   * The `scale` subresource: the object's replicas as an autoscaling/v1 Scale (what `kubectl
   * scale` reads and patches); a write changes only `spec.replicas`.
   */
  async #serveScale(
    target: Target,
    name: string,
    request: IncomingMessage,
    context: WriteContext,
  ): Promise<Answer> {
    const { type, namespace } = target;
    const method = request.method ?? 'GET';
    if (method === 'GET') {
      const object = this.store.get(storageKeyOf(type), namespace, name);
      if (!object) throw notFound(type, name);
      return { status: 200, body: scaleOf(object) };
    }
    let change: (scale: KubeObject) => KubeObject;
    if (method === 'PUT') {
      const body = await bodyObject(request);
      change = () => body;
    } else if (method === 'PATCH') {
      change = patchFunctionOf(
        mediaTypeOf(request),
        (await readBody(request)).toString('utf8'),
        'autoscaling/scale',
      );
    } else throw methodNotAllowed();
    const updated = await this.writer.update(
      type,
      namespace,
      name,
      (current) => {
        const scale = change(scaleOf(current));
        const replicas = (scale.spec as { replicas?: unknown } | undefined)?.replicas;
        return {
          ...current,
          metadata: { ...current.metadata, resourceVersion: scale.metadata?.resourceVersion },
          spec: { ...(current.spec as Record<string, unknown>), replicas },
        };
      },
      { context },
    );
    return { status: 200, body: scaleOf(updated) };
  }

  /** DELETE on a collection: every object the selectors match, returned as a list. */
  async #deleteCollection(
    target: Target,
    request: IncomingMessage,
    query: URLSearchParams,
    user: UserInfo,
  ): Promise<unknown> {
    const options = { ...deleteOptionsFrom(await deleteOptionsOf(request), query), user };
    const { items } = this.#selected(target, query);
    const deleted: KubeObject[] = [];
    for (const item of items) {
      try {
        deleted.push(
          await this.writer.delete(
            target.type,
            item.metadata?.namespace ?? '',
            item.metadata?.name ?? '',
            options,
          ),
        );
      } catch (error) {
        if (!(error instanceof KubeStatusError && error.reason === 'NotFound')) throw error;
      }
    }
    return {
      kind: target.type.listKind ?? `${target.type.kind}List`,
      apiVersion: apiVersionOf(target.type),
      metadata: { resourceVersion: String(this.store.currentResourceVersion()) },
      items: deleted,
    };
  }

  /** A watch: replay from `resourceVersion` (or synthetic ADDED events), then live changes. */
  #watch(
    target: Target,
    query: URLSearchParams,
    request: IncomingMessage,
    response: ServerResponse,
  ): void {
    const key = storageKeyOf(target.type);
    const labels = labelMatcher(query.get('labelSelector'));
    const fields = fieldMatcher(
      [query.get('fieldSelector'), target.name ? `metadata.name=${target.name}` : '']
        .filter(Boolean)
        .join(','),
    );
    const matches = (change: Change) =>
      change.resource === key &&
      (!target.type.namespaced || !target.namespace || change.namespace === target.namespace) &&
      labels(change.object) &&
      fields(change.object);
    const table = wantsTable(request.headers.accept);
    const requested = query.get('resourceVersion') ?? '';
    if (!/^\d*$/.test(requested)) {
      throw new KubeStatusError('BadRequest', 400, `invalid resourceVersion "${requested}"`);
    }
    response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    response.flushHeaders();
    const send = (type: string, object: KubeObject) => {
      const typed = withTypeMeta(object, target.type);
      const shown = table
        ? tableOf(
            target.type,
            key,
            [typed],
            typed.metadata?.resourceVersion ?? '',
            includeObjectOf(query),
          )
        : typed;
      response.write(`${JSON.stringify({ type, object: shown })}\n`);
    };
    const pending: Change[] = [];
    let replaying = true;
    const unsubscribe = this.store.subscribe((change) => {
      if (!matches(change)) return;
      if (replaying) pending.push(change);
      else send(change.type, change.object);
    });
    const sentThrough = this.#replay(target, query, matches, send);
    if (sentThrough === 'expired') {
      const status = new KubeStatusError(
        'Expired',
        410,
        `too old resource version: ${requested} (${this.store.oldestWatchableResourceVersion()})`,
      );
      response.write(`${JSON.stringify({ type: 'ERROR', object: statusBody(status) })}\n`);
      unsubscribe();
      response.end();
      return;
    }
    replaying = false;
    for (const change of pending) {
      if (change.resourceVersion > sentThrough) send(change.type, change.object);
    }
    this.#keepWatching(target, query, request, response, unsubscribe);
  }

  /**
   * A watch's start: synthetic ADDED events for what exists (no resourceVersion, or "0"), or
   * the retained changes after the one given. Returns the resourceVersion sent through, or
   * `expired` when those changes are no longer retained.
   */
  #replay(
    target: Target,
    query: URLSearchParams,
    matches: (change: Change) => boolean,
    send: (type: string, object: KubeObject) => void,
  ): number | 'expired' {
    const key = storageKeyOf(target.type);
    const requested = query.get('resourceVersion');
    if (!requested || requested === '0') {
      const namespace = target.type.namespaced && target.namespace ? target.namespace : '';
      const listed = this.store.list(key, namespace || undefined);
      for (const item of listed.items) {
        const change = { resource: key, namespace: item.metadata?.namespace ?? '', object: item };
        if (matches(change as Change)) send('ADDED', item);
      }
      return listed.resourceVersion;
    }
    const since = this.store.changesSince(Number(requested), key);
    if (since === 'expired') return 'expired';
    for (const change of since.filter(matches)) send(change.type, change.object);
    return Math.max(Number(requested), since.at(-1)?.resourceVersion ?? 0);
  }

  /** Timeouts, bookmarks and the end of a watch. */
  #keepWatching(
    target: Target,
    query: URLSearchParams,
    request: IncomingMessage,
    response: ServerResponse,
    unsubscribe: () => void,
  ): void {
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => response.end(), timeout * 1000) : undefined;
    const bookmarks =
      query.get('allowWatchBookmarks') === 'true'
        ? setInterval(() => {
            const bookmark = {
              kind: target.type.kind,
              apiVersion: apiVersionOf(target.type),
              metadata: { resourceVersion: String(this.store.currentResourceVersion()) },
            };
            response.write(`${JSON.stringify({ type: 'BOOKMARK', object: bookmark })}\n`);
          }, this.#bookmarkIntervalMs)
        : undefined;
    this.#watches.add(response);
    const stop = () => {
      if (timer) clearTimeout(timer);
      if (bookmarks) clearInterval(bookmarks);
      unsubscribe();
      this.#watches.delete(response);
    };
    request.on('close', stop);
    response.on('close', stop);
  }
}

/** A Deployment's or ReplicaSet's replicas as autoscaling/v1 Scale. */
function scaleOf(object: KubeObject): KubeObject {
  const spec = (object.spec ?? {}) as { replicas?: number; selector?: unknown };
  const status = (object.status ?? {}) as { replicas?: number };
  const metadata = object.metadata ?? {};
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      uid: metadata.uid,
      resourceVersion: metadata.resourceVersion,
      creationTimestamp: metadata.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector: selectorText(spec.selector) },
  };
}

/**
 * A request in RBAC's terms: the verb its method and shape mean, on which resource. A list or
 * watch narrowed by `fieldSelector=metadata.name=<name>` is for that name, as the API server's
 * request-info factory reads it (so `resourceNames` rules can allow informers of one object).
 */
function attributesOf(
  target: Target,
  method: string,
  watch: boolean,
  fieldSelector: string | null,
): RequestAttributes {
  const collection = !target.name;
  const selected = /^metadata\.name==?([^,]+)$/.exec(fieldSelector ?? '')?.[1];
  const name = target.name ?? (method === 'GET' ? selected : undefined);
  const verbs: Readonly<Record<string, string>> = {
    GET: watch ? 'watch' : collection ? 'list' : 'get',
    POST: 'create',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: collection ? 'deletecollection' : 'delete',
  };
  return {
    kind: 'resource',
    verb: verbs[method] ?? method.toLowerCase(),
    apiGroup: target.type.group,
    resource: target.type.resource,
    ...(target.subresource ? { subresource: target.subresource } : {}),
    namespace: target.namespace,
    ...(name ? { name } : {}),
  };
}

/** Who the caller is, as authentication saw it (`kubectl auth whoami`). */
function selfSubjectReview(user: UserInfo): unknown {
  return {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'SelfSubjectReview',
    metadata: { creationTimestamp: now() },
    status: { userInfo: { username: user.username, uid: user.uid, groups: [...user.groups] } },
  };
}

/** The request target as a URL (a target like `//x` is a path here, not a host). */
function requestUrl(request: IncomingMessage): URL {
  try {
    return new URL(`https://localhost${request.url ?? '/'}`);
  } catch {
    throw new KubeStatusError('BadRequest', 400, `malformed request target: ${request.url ?? ''}`);
  }
}

/** `/api/v1/…` → core v1; `/apis/<g>/<v>/…` → that group and version; the rest of the path. */
function groupVersionOf(
  path: string,
): { group: string; version: string; rest: string[] } | undefined {
  let parts: string[];
  try {
    parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw new KubeStatusError('BadRequest', 400, `malformed request path: ${path}`);
  }
  if (parts[0] === 'api') return { group: '', version: parts[1] ?? '', rest: parts.slice(2) };
  if (parts[0] === 'apis') {
    return { group: parts[1] ?? '', version: parts[2] ?? '', rest: parts.slice(3) };
  }
  return undefined;
}

function versionBody(): Record<string, string> {
  return {
    ...servedVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.23.0',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}
