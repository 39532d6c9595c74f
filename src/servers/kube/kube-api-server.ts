/**
 * The local Kubernetes API server (first part): HTTPS with the home's CA, static bearer tokens,
 * `/version` and health, legacy discovery, and get / list / watch / create / update / merge
 * patch / delete of the registered resources over the storage (kube-store.ts). Errors are
 * `Status` objects with Kubernetes' reasons and codes. kubectl and @kubernetes/client-node are
 * its clients; what they send and need is recorded in reference/kubectl.md.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import jsonPatch from 'fast-json-patch';
import { ensureServingCertificates } from '../../adapters/tls/certificates.js';
import { KubeStatusError } from '../../core/errors.js';
import { requirementMatches, type Labels } from '../../core/kube/label-selector.js';
import { parseLabelSelector } from '../../core/kube/label-selector-string.js';
import {
  apiVersionOf,
  ResourceRegistry,
  standardVerbs,
  storageKeyOf,
  type ResourceType,
} from './kube-resources.js';
import { decodeProtobufBody, protobufMediaType } from './protobuf-body.js';
import { KubeStore, StorageConflict, type Change, type KubeObject } from './storage/kube-store.js';

/** The Kubernetes version served: kubectl's dispatcher runs the matching kubectl (1.32). */
export const servedVersion = { major: '1', minor: '32', gitVersion: 'v1.32.0' } as const;
const maxBodyBytes = 3 * 1024 * 1024;
export const initialNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export interface UserInfo {
  readonly username: string;
  readonly uid: string;
  readonly groups: readonly string[];
}

export interface KubeApiServerOptions {
  readonly home: string;
  /** 0 picks a free port. Bound to loopback. */
  readonly port?: number;
  /** Changes kept for watches (see KubeStore); older resourceVersions are `Expired`. */
  readonly historySize?: number;
  readonly onInternalError?: (error: unknown) => void;
}

export interface KubeApiServer {
  readonly url: string;
  readonly port: number;
  readonly store: KubeStore;
  readonly kubeconfigPath: string;
  /** Ends every open watch cleanly (clients re-watch from their last resourceVersion). */
  endWatches(): void;
  close(): Promise<void>;
}

/** `--token-auth-file` lines: `token,user,uid,"group1,group2"`. */
function readTokens(path: string): Map<string, UserInfo> {
  const tokens = new Map<string, UserInfo>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([^,]+),([^,]+),([^,]*)(?:,"?([^"]*)"?)?$/.exec(line.trim());
    if (!match?.[1] || !match[2]) continue;
    tokens.set(match[1], {
      username: match[2],
      uid: match[3] ?? '',
      groups: (match[4] ?? '').split(',').filter(Boolean),
    });
  }
  return tokens;
}

/** The home's token file, with an admin token (system:masters) made on first start. */
function ensureTokens(home: string): { path: string; adminToken: string } {
  const path = join(home, 'kube-tokens.csv');
  if (!existsSync(path)) {
    const token = randomBytes(32).toString('base64url');
    writeFileSync(path, `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });
  }
  const first = readFileSync(path, 'utf8').split('\n')[0] ?? '';
  return { path, adminToken: first.split(',')[0] ?? '' };
}

function kubeconfigOf(url: string, caPem: string, token: string): string {
  const ca = Buffer.from(caPem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: sgpods',
    '  cluster:',
    `    server: ${url}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    '- name: admin',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: sgpods',
    '  context:',
    '    cluster: sgpods',
    '    user: admin',
    'current-context: sgpods',
    '',
  ].join('\n');
}

function statusBody(error: KubeStatusError): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: error.message,
    reason: error.reason,
    details: error.details,
    code: error.httpStatus,
  };
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}

/** The object a request body carries: JSON, or the protobuf kubectl create sends. */
async function bodyObject(request: IncomingMessage): Promise<KubeObject> {
  const body = await readBody(request);
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim();
  return contentType === protobufMediaType
    ? decodeProtobufBody(body)
    : parseJson(body.toString('utf8'));
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        reject(new KubeStatusError('RequestEntityTooLarge', 413, 'request entity too large'));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    request.on('error', reject);
  });
}

/** A request path resolved to a resource, a scope and maybe an object and a subresource. */
interface Target {
  readonly type: ResourceType;
  readonly namespace: string;
  readonly name?: string;
  readonly subresource?: string;
}

function notFound(type: ResourceType, name: string): KubeStatusError {
  const qualified = type.group ? `${type.resource}.${type.group}` : type.resource;
  return new KubeStatusError('NotFound', 404, `${qualified} "${name}" not found`, {
    name,
    group: type.group || undefined,
    kind: type.resource,
  });
}

function storageError(error: unknown, type: ResourceType, name: string): unknown {
  if (!(error instanceof StorageConflict)) return error;
  const qualified = type.group ? `${type.resource}.${type.group}` : type.resource;
  const details = { name, group: type.group || undefined, kind: type.resource };
  if (error.reason === 'NotFound') return notFound(type, name);
  if (error.reason === 'AlreadyExists') {
    return new KubeStatusError(
      'AlreadyExists',
      409,
      `${qualified} "${name}" already exists`,
      details,
    );
  }
  return new KubeStatusError(
    'Conflict',
    409,
    `Operation cannot be fulfilled on ${qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    details,
  );
}

function parseJson(body: string): KubeObject {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error('not an object');
    }
    return parsed as KubeObject;
  } catch (error) {
    throw new KubeStatusError(
      'BadRequest',
      400,
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

/** RFC 7386: objects merge, null deletes, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result = new Map<string, unknown>(
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? Object.entries(target as Record<string, unknown>)
      : [],
  );
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) result.delete(key);
    else result.set(key, mergePatch(result.get(key), value));
  }
  return Object.fromEntries(result);
}

/** The patch a PATCH body describes, by its content type (strategic merge patch: issue 8). */
function patchFunctionOf(contentType: string, body: string): (current: KubeObject) => KubeObject {
  if (contentType === 'application/merge-patch+json') {
    const patch = parseJson(body);
    return (current) => mergePatch(current, patch) as KubeObject;
  }
  if (contentType === 'application/json-patch+json') {
    let operations: unknown;
    try {
      operations = JSON.parse(body);
    } catch {
      operations = undefined;
    }
    if (!Array.isArray(operations)) {
      throw new KubeStatusError(
        'BadRequest',
        400,
        'a JSON patch must be a JSON array of operations',
      );
    }
    return (current) => {
      try {
        return jsonPatch.applyPatch(
          structuredClone(current),
          operations as jsonPatch.Operation[],
          true,
          false,
        ).newDocument;
      } catch (error) {
        throw new KubeStatusError(
          'Invalid',
          422,
          `the server rejected our request due to an error in our request: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
        );
      }
    };
  }
  throw new KubeStatusError(
    'UnsupportedMediaType',
    415,
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json`,
  );
}

export class KubeApi {
  readonly registry = new ResourceRegistry();
  /** Open watch streams: ended cleanly at shutdown, so clients re-watch from their last version. */
  readonly #watches = new Set<ServerResponse>();

  endWatches(): void {
    for (const response of this.#watches) response.end();
    this.#watches.clear();
  }

  constructor(
    readonly store: KubeStore,
    private readonly tokens: Map<string, UserInfo>,
  ) {}

  /** The namespaces every cluster has. */
  ensureInitialNamespaces(): void {
    for (const name of initialNamespaces) {
      if (!this.store.get('/namespaces', '', name)) {
        this.store.create('/namespaces', '', name, {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
          spec: { finalizers: ['kubernetes'] },
          status: { phase: 'Active' },
        });
      }
    }
  }

  authenticate(request: IncomingMessage): UserInfo {
    const header = request.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (token) {
      for (const [known, user] of this.tokens) {
        const a = Buffer.from(known);
        const b = Buffer.from(token);
        if (a.length === b.length && timingSafeEqual(a, b)) return user;
      }
    }
    throw new KubeStatusError('Unauthorized', 401, 'Unauthorized');
  }

  discovery(path: string): unknown {
    if (path === '/api') {
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
    }
    if (path === '/apis') {
      return {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [...this.registry.groups()]
          .filter(([group]) => group !== '')
          .map(([name, versions]) => ({
            name,
            versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
            preferredVersion: {
              groupVersion: `${name}/${versions[0] ?? ''}`,
              version: versions[0],
            },
          })),
      };
    }
    const match = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    if (!match) return undefined;
    const group = match[2] ?? '';
    const version = match[1] ?? match[3] ?? '';
    const types = this.registry
      .all()
      .filter((type) => type.group === group && type.version === version);
    if (types.length === 0) return undefined;
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: apiVersionOf({ group, version }),
      resources: types.flatMap((type) => [
        {
          name: type.resource,
          singularName: type.singular,
          namespaced: type.namespaced,
          kind: type.kind,
          verbs: [...standardVerbs],
          ...(type.shortNames ? { shortNames: type.shortNames } : {}),
          ...(type.categories ? { categories: type.categories } : {}),
        },
        ...(type.subresources ?? []).map((subresource) => ({
          name: `${type.resource}/${subresource}`,
          singularName: '',
          namespaced: type.namespaced,
          kind: type.kind,
          verbs: ['get', 'patch', 'update'],
        })),
      ]),
    };
  }

  /**
   * The OpenAPI v3 kubectl's client-side validation needs (reference/kubectl.md §2): an index of
   * group versions, and per group version one PATCH operation per kind that names its
   * group/version/kind and accepts `fieldValidation`. Schemas come with issue 8.
   */
  openApi(path: string): unknown {
    const relative = (group: string, version: string) =>
      group === '' ? `api/${version}` : `apis/${group}/${version}`;
    if (path === '/openapi/v3') {
      const paths: Record<string, unknown> = {};
      for (const [group, versions] of this.registry.groups()) {
        for (const version of versions) {
          const name = relative(group, version);
          paths[name] = { serverRelativeURL: `/openapi/v3/${name}?hash=sgpods` };
        }
      }
      return { paths };
    }
    const match = /^\/openapi\/v3\/(api\/[^/]+|apis\/[^/]+\/[^/]+)$/.exec(path);
    if (!match?.[1]) return undefined;
    const types = this.registry
      .all()
      .filter((type) => relative(type.group, type.version) === match[1]);
    if (types.length === 0) return undefined;
    const paths: Record<string, unknown> = {};
    for (const type of types) {
      const scope = type.namespaced ? '/namespaces/{namespace}' : '';
      paths[`/${match[1]}${scope}/${type.resource}/{name}`] = {
        patch: {
          'x-kubernetes-group-version-kind': {
            group: type.group,
            version: type.version,
            kind: type.kind,
          },
          parameters: [{ name: 'fieldValidation', in: 'query' }],
        },
      };
    }
    return {
      openapi: '3.0.0',
      info: { title: 'Kubernetes', version: servedVersion.gitVersion },
      paths,
      components: { schemas: {} },
    };
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
    return { type, namespace, ...(name ? { name } : {}), ...(subresource ? { subresource } : {}) };
  }

  #listOf(target: Target, query: URLSearchParams): Record<string, unknown> {
    const key = storageKeyOf(target.type);
    const listed = this.store.list(
      key,
      target.type.namespaced && target.namespace ? target.namespace : undefined,
    );
    const selector = query.get('fieldSelector');
    const labels = labelMatcher(query.get('labelSelector'));
    const items = listed.items.filter(
      (item) => matchesFieldSelector(item, selector) && labels(item),
    );
    return {
      kind: `${target.type.kind}List`,
      apiVersion: apiVersionOf(target.type),
      metadata: { resourceVersion: String(listed.resourceVersion) },
      items: items.map((item) => withTypeMeta(item, target.type)),
    };
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
    this.authenticate(request);
    const openApi = this.openApi(path);
    if (openApi !== undefined) {
      sendJson(response, 200, openApi);
      return;
    }
    const discovery = this.discovery(path);
    if (discovery !== undefined) {
      sendJson(response, 200, discovery);
      return;
    }
    const target = this.target(path);
    if (!target) {
      throw new KubeStatusError(
        'NotFound',
        404,
        'the server could not find the requested resource',
      );
    }
    const watch = ['true', '1'].includes(url.searchParams.get('watch') ?? '');
    if (request.method === 'GET' && !target.name && watch) {
      this.#watch(target, url.searchParams, request, response);
      return;
    }
    const answer = await this.#serve(target, request, url.searchParams);
    sendJson(response, answer.status, answer.body);
  }

  async #serve(
    target: Target,
    request: IncomingMessage,
    query: URLSearchParams,
  ): Promise<{ status: number; body: unknown }> {
    const method = request.method ?? 'GET';
    const { name } = target;
    if (method === 'GET' && !name) return { status: 200, body: this.#listOf(target, query) };
    if (method === 'POST' && !name) {
      return { status: 201, body: this.#create(target, await bodyObject(request)) };
    }
    if (!name) {
      throw new KubeStatusError(
        'MethodNotAllowed',
        405,
        'the server does not allow this method on the requested resource',
      );
    }
    const key = storageKeyOf(target.type);
    const write = (work: () => KubeObject) => {
      try {
        return { status: 200, body: work() };
      } catch (error) {
        throw storageError(error, target.type, name);
      }
    };
    switch (method) {
      case 'GET': {
        const object = this.store.get(key, target.namespace, name);
        if (!object) throw notFound(target.type, name);
        return { status: 200, body: withTypeMeta(object, target.type) };
      }
      case 'PUT': {
        const object = await bodyObject(request);
        return write(() =>
          this.store.update(
            key,
            target.namespace,
            name,
            withTypeMeta(object, target.type),
            object.metadata?.resourceVersion,
          ),
        );
      }
      case 'PATCH': {
        const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
        const apply = patchFunctionOf(contentType, (await readBody(request)).toString('utf8'));
        return write(() => this.#patch(target, name, apply));
      }
      case 'DELETE':
        return write(() => this.store.delete(key, target.namespace, name));
      default:
        throw new KubeStatusError(
          'MethodNotAllowed',
          405,
          'the server does not allow this method on the requested resource',
        );
    }
  }

  /**
   * A patch; one that changes nothing writes nothing (the resourceVersion stays). A
   * resourceVersion the patch sets is a precondition, as for an update.
   */
  #patch(target: Target, name: string, apply: (current: KubeObject) => KubeObject): KubeObject {
    const key = storageKeyOf(target.type);
    const current = this.store.get(key, target.namespace, name);
    if (!current) throw notFound(target.type, name);
    const patched = apply(current);
    if (JSON.stringify(patched) === JSON.stringify(current)) return current;
    const version = patched.metadata?.resourceVersion;
    return this.store.update(
      key,
      target.namespace,
      name,
      withTypeMeta(patched, target.type),
      version !== current.metadata?.resourceVersion ? version : undefined,
    );
  }

  #create(target: Target, object: KubeObject): KubeObject {
    const name = object.metadata?.name;
    if (!name) {
      throw new KubeStatusError(
        'Invalid',
        422,
        `${target.type.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
      );
    }
    if (target.type.namespaced) this.#requireNamespace(target.namespace);
    try {
      return this.store.create(
        storageKeyOf(target.type),
        target.namespace,
        name,
        withTypeMeta(defaulted(object, target.type), target.type),
      );
    } catch (error) {
      throw storageError(error, target.type, name);
    }
  }

  #requireNamespace(namespace: string): void {
    if (!this.store.get('/namespaces', '', namespace)) {
      throw new KubeStatusError('NotFound', 404, `namespaces "${namespace}" not found`, {
        name: namespace,
        kind: 'namespaces',
      });
    }
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
    const matches = (change: Change) =>
      change.resource === key &&
      labels(change.object) &&
      (!target.type.namespaced || !target.namespace || change.namespace === target.namespace) &&
      matchesFieldSelector(change.object, query.get('fieldSelector'));
    const requested = query.get('resourceVersion');
    response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    response.flushHeaders();
    const send = (type: string, object: unknown) => {
      response.write(`${JSON.stringify({ type, object })}\n`);
    };
    const pending: Change[] = [];
    let replaying = true;
    const unsubscribe = this.store.subscribe((change) => {
      if (!matches(change)) return;
      if (replaying) pending.push(change);
      else send(change.type, withTypeMeta(change.object, target.type));
    });
    let sentThrough = 0;
    if (!requested || requested === '0') {
      const listed = this.#listOf(target, query);
      for (const item of listed.items as KubeObject[]) send('ADDED', item);
      sentThrough = Number((listed.metadata as { resourceVersion: string }).resourceVersion);
    } else {
      const since = this.store.changesSince(Number(requested), key);
      if (since === 'expired') {
        send(
          'ERROR',
          statusBody(
            new KubeStatusError(
              'Expired',
              410,
              `too old resource version: ${requested} (${this.store.oldestWatchableResourceVersion()})`,
            ),
          ),
        );
        unsubscribe();
        response.end();
        return;
      }
      for (const change of since.filter(matches))
        send(change.type, withTypeMeta(change.object, target.type));
      sentThrough = Math.max(Number(requested), since.at(-1)?.resourceVersion ?? 0);
    }
    replaying = false;
    for (const change of pending) {
      if (change.resourceVersion > sentThrough)
        send(change.type, withTypeMeta(change.object, target.type));
    }
    const timeout = Number(query.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => response.end(), timeout * 1000) : undefined;
    this.#watches.add(response);
    const stop = () => {
      if (timer) clearTimeout(timer);
      unsubscribe();
      this.#watches.delete(response);
    };
    request.on('close', stop);
    response.on('close', stop);
  }
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

function withTypeMeta(object: KubeObject, type: ResourceType): KubeObject {
  return { ...object, apiVersion: apiVersionOf(type), kind: type.kind };
}

/** Defaults of the kinds served so far. */
function defaulted(object: KubeObject, type: ResourceType): KubeObject {
  if (type.kind === 'Secret' && !object.type) return { ...object, type: 'Opaque' };
  if (type.kind === 'Namespace') {
    return {
      ...object,
      metadata: {
        ...object.metadata,
        labels: {
          ...(object.metadata?.labels as Record<string, string> | undefined),
          'kubernetes.io/metadata.name': object.metadata?.name ?? '',
        },
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    };
  }
  return object;
}

/** A `labelSelector` query as a predicate on objects; a malformed one is 400 BadRequest. */
function labelMatcher(selector: string | null): (object: KubeObject) => boolean {
  if (!selector) return () => true;
  const parsed = parseLabelSelector(selector);
  if (!parsed.ok) {
    throw new KubeStatusError('BadRequest', 400, `unable to parse requirement: ${parsed.error}`);
  }
  return (object) => {
    const labels = (object.metadata?.labels ?? {}) as Labels;
    return parsed.requirements.every((requirement) => requirementMatches(requirement, labels));
  };
}

/** `metadata.name=x,metadata.namespace=y` (and `!=`): the fields every kind supports. */
function matchesFieldSelector(object: KubeObject, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const match = /^([\w.]+)(!=|==|=)(.*)$/.exec(term.trim());
    if (!match) return true;
    const [, field = '', operator, value] = match;
    let actual: unknown = object;
    for (const part of field.split('.')) {
      actual =
        typeof actual === 'object' && actual !== null
          ? (actual as Record<string, unknown>)[part]
          : undefined;
    }
    const text =
      typeof actual === 'string' || typeof actual === 'number' || typeof actual === 'boolean'
        ? String(actual)
        : '';
    return operator === '!=' ? text !== value : text === value;
  });
}

export async function startKubeApiServer(options: KubeApiServerOptions): Promise<KubeApiServer> {
  const { home } = options;
  const { authority, serving } = ensureServingCertificates(join(home, 'pki'), 'apiserver', [
    'localhost',
    '127.0.0.1',
  ]);
  const tokens = ensureTokens(home);
  const store = KubeStore.open(join(home, 'kube.sqlite'), {
    ...(options.historySize !== undefined ? { historySize: options.historySize } : {}),
  });
  const api = new KubeApi(store, readTokens(tokens.path));
  api.ensureInitialNamespaces();
  const server: Server = createServer(
    { cert: serving.certificatePem, key: serving.keyPem },
    (request, response) => {
      api.handle(request, response).catch((error: unknown) => {
        if (response.headersSent) {
          response.end();
          return;
        }
        if (error instanceof KubeStatusError) {
          sendJson(response, error.httpStatus, statusBody(error));
          return;
        }
        options.onInternalError?.(error);
        sendJson(
          response,
          500,
          statusBody(new KubeStatusError('InternalError', 500, 'an internal error occurred')),
        );
      });
    },
  );
  // Requests Node's HTTP parser refuses get a Status too, not an empty 400.
  server.on('clientError', (error, socket) => {
    if (!socket.writable) return;
    const body = JSON.stringify(
      statusBody(
        new KubeStatusError('BadRequest', 400, `malformed HTTP request: ${error.message}`),
      ),
    );
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `https://127.0.0.1:${port}`;
  const kubeconfigPath = join(home, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigOf(url, authority.certificatePem, tokens.adminToken), {
    mode: 0o600,
  });
  return {
    url,
    port,
    store,
    kubeconfigPath,
    endWatches: () => {
      api.endWatches();
    },
    close: () =>
      new Promise((resolve) => {
        api.endWatches();
        server.closeIdleConnections();
        server.closeAllConnections();
        server.close(() => {
          store.close();
          resolve();
        });
      }),
  };
}
