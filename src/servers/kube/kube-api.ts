/**
 * The API server's HTTP layer: authentication, discovery and OpenAPI, and for every served
 * resource get / list / watch / create / update / patch / delete / deletecollection and the
 * `status` subresource, with Table output for `kubectl get`. Writes go through ObjectWriter;
 * what kubectl and @kubernetes/client-node send and need is recorded in reference/kubectl.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KubeStatusError } from '../../core/errors.js';
import { authenticate, type UserInfo } from './authentication.js';
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
  ObjectWriter,
  type DeleteOptions,
  type FieldValidation,
  type WriteContext,
} from './object-writes.js';
import { patchFunctionOf } from './patches.js';
import { bodyObject, deleteOptionsOf, mediaTypeOf, readBody } from './request-body.js';
import { fieldMatcher, labelMatcher } from './selectors.js';
import { methodNotAllowed, notFound, resourceNotFound, statusBody } from './status-errors.js';
import type { Change, KubeObject, KubeStore } from './storage/kube-store.js';
import { tableOf, wantsTable, type IncludeObject } from './tables.js';

/** The Kubernetes version served: kubectl's dispatcher runs the matching kubectl (1.32). */
export const servedVersion = { major: '1', minor: '32', gitVersion: 'v1.32.0' } as const;
export const initialNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export interface KubeApiOptions {
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

function includeObjectOf(query: URLSearchParams): IncludeObject {
  const value = query.get('includeObject');
  return value === 'None' || value === 'Object' ? value : 'Metadata';
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
  return {
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

  constructor(
    readonly store: KubeStore,
    private readonly tokens: ReadonlyMap<string, UserInfo>,
    options: KubeApiOptions = {},
  ) {
    this.writer = new ObjectWriter(store);
    this.#bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000;
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

  /** The namespaces every cluster has. */
  ensureInitialNamespaces(): void {
    const type = this.registry.find('', 'v1', 'namespaces');
    for (const name of initialNamespaces) {
      if (type && !this.store.get('/namespaces', '', name)) {
        this.writer.create(type, '', { metadata: { name } });
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
    const user = authenticate(request, this.tokens);
    const document = openApiDocument(this.registry, path) ?? discoveryDocument(this.registry, path);
    if (document !== undefined) {
      sendJson(response, 200, document);
      return;
    }
    const target = this.target(path);
    if (!target) throw resourceNotFound();
    const query = url.searchParams;
    const watch = ['true', '1'].includes(query.get('watch') ?? '');
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
    const write: WriteContext = { ...context, fieldValidation: fieldValidationOf(query) };
    if (!target.name) {
      switch (method) {
        case 'GET':
          return { status: 200, body: this.#list(target, request, query) };
        case 'POST':
          return {
            status: 201,
            body: this.writer.create(
              target.type,
              target.namespace,
              await bodyObject(request),
              write,
            ),
          };
        case 'DELETE':
          return { status: 200, body: await this.#deleteCollection(target, request, query) };
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
    switch (request.method ?? 'GET') {
      case 'GET': {
        const object = this.store.get(storageKeyOf(type), namespace, name);
        if (!object) throw notFound(type, name);
        const typed = withTypeMeta(object, type);
        if (wantsTable(request.headers.accept) && !subresource) {
          return {
            status: 200,
            body: tableOf(
              type,
              storageKeyOf(type),
              [typed],
              typed.metadata?.resourceVersion ?? '',
              includeObjectOf(query),
            ),
          };
        }
        return { status: 200, body: typed };
      }
      case 'PUT': {
        const object = await bodyObject(request);
        const options = { context, ...(subresource ? { subresource } : {}) };
        return {
          status: 200,
          body: this.writer.update(type, namespace, name, () => object, options),
        };
      }
      case 'PATCH': {
        const apply = patchFunctionOf(
          mediaTypeOf(request),
          (await readBody(request)).toString('utf8'),
          storageKeyOf(type),
        );
        const options = { context, ...(subresource ? { subresource } : {}) };
        return { status: 200, body: this.writer.update(type, namespace, name, apply, options) };
      }
      case 'DELETE': {
        if (subresource) throw methodNotAllowed();
        const options = deleteOptionsFrom(await deleteOptionsOf(request), query);
        return { status: 200, body: this.writer.delete(type, namespace, name, options) };
      }
      default:
        throw methodNotAllowed();
    }
  }

  /** DELETE on a collection: every object the selectors match, returned as a list. */
  async #deleteCollection(
    target: Target,
    request: IncomingMessage,
    query: URLSearchParams,
  ): Promise<unknown> {
    const options = deleteOptionsFrom(await deleteOptionsOf(request), query);
    const { items } = this.#selected(target, query);
    const deleted: KubeObject[] = [];
    for (const item of items) {
      try {
        deleted.push(
          this.writer.delete(
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

/** Who the caller is, as authentication saw it (`kubectl auth whoami`). */
function selfSubjectReview(user: UserInfo): unknown {
  return {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'SelfSubjectReview',
    metadata: { creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
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
