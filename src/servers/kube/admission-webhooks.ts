/**
 * Dynamic admission: MutatingWebhookConfiguration and ValidatingWebhookConfiguration
 * (admissionregistration.k8s.io/v1) called over HTTPS with an AdmissionReview v1, as
 * kube-apiserver calls them — `rules` (operations, groups, versions, resources, scope),
 * `namespaceSelector`, `objectSelector`, `failurePolicy`, `timeoutSeconds`, `sideEffects` (a
 * dry run is refused by a webhook that may have side effects), the `caBundle`
 * checked, mutating webhooks in order with their JSON patches applied (and re-invoked once when
 * `reinvocationPolicy: IfNeeded` and a later one changed the object), then validating ones; the
 * caller's identity as `userInfo`. A denial is the webhook's Status prefixed
 * `admission webhook "<name>" denied the request: …`; a webhook that cannot be called fails the
 * request (InternalError) unless its policy is Ignore.
 */
import { randomUUID } from 'node:crypto';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import jsonPatch from 'fast-json-patch';
import { KubeStatusError } from '../../core/errors.js';
import {
  requirementMatches,
  selectorRequirements,
  type LabelSelector,
  type Labels,
} from '../../core/kube/label-selector.js';
import type { UserInfo } from './authentication.js';
import type { ResourceType } from './kube-resources.js';
import type { KubeObject, KubeStore } from './storage/kube-store.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE';

/** One write as admission sees it. */
export interface AdmissionAttributes {
  readonly operation: Operation;
  readonly type: ResourceType;
  readonly namespace: string;
  readonly name: string;
  readonly subresource?: string;
  readonly object?: KubeObject;
  readonly oldObject?: KubeObject;
  readonly user?: UserInfo;
  readonly dryRun?: boolean;
}

interface WebhookRule {
  readonly operations?: readonly string[];
  readonly apiGroups?: readonly string[];
  readonly apiVersions?: readonly string[];
  readonly resources?: readonly string[];
  readonly scope?: string;
}

interface Webhook {
  readonly name?: string;
  readonly clientConfig?: {
    readonly url?: string;
    readonly caBundle?: string;
    readonly service?: { namespace?: string; name?: string; path?: string; port?: number };
  };
  readonly rules?: readonly WebhookRule[];
  readonly failurePolicy?: 'Fail' | 'Ignore';
  readonly namespaceSelector?: LabelSelector;
  readonly objectSelector?: LabelSelector;
  readonly timeoutSeconds?: number;
  readonly reinvocationPolicy?: 'Never' | 'IfNeeded';
  readonly sideEffects?: string;
}

/** Where a webhook's service is reachable: `https://host:port`, and the name its cert carries. */
export type ServiceResolver = (service: { namespace: string; name: string; port: number }) =>
  | {
      url: string;
      serverName: string;
      /** A raw connection to the endpoint, when the API server has no route to it. */
      connect?: () => Duplex;
    }
  | undefined;

/**
 * An agent whose connections come from `open` (a raw stream to the endpoint, e.g. through a
 * relay), with TLS on top: the request's `ca` and `servername` apply as usual.
 */
class RelayAgent extends HttpsAgent {
  constructor(private readonly open: () => Duplex) {
    super({ keepAlive: false });
  }

  override createConnection(options: RequestOptions): TLSSocket {
    return tlsConnect({
      socket: this.open(),
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.servername ? { servername: options.servername } : {}),
    });
  }
}

interface AdmissionResponse {
  readonly allowed?: boolean;
  readonly status?: { code?: number; message?: string; reason?: string };
  readonly patch?: string;
  readonly patchType?: string;
  readonly warnings?: readonly string[];
}

const webhookGroup = 'admissionregistration.k8s.io';

const covers = (values: readonly string[] | undefined, value: string) =>
  (values ?? []).some((candidate) => candidate === '*' || candidate === value);

function ruleMatches(rule: WebhookRule, attributes: AdmissionAttributes): boolean {
  const { type } = attributes;
  const resource = attributes.subresource
    ? `${type.resource}/${attributes.subresource}`
    : type.resource;
  const resources = rule.resources ?? [];
  const resourceMatches =
    resources.includes('*/*') ||
    resources.includes(resource) ||
    (!attributes.subresource && resources.includes('*')) ||
    (attributes.subresource !== undefined && resources.includes(`*/${attributes.subresource}`));
  const scope = rule.scope ?? '*';
  const scopeMatches = scope === '*' || (scope === 'Namespaced') === type.namespaced;
  return (
    covers(rule.operations, attributes.operation) &&
    covers(rule.apiGroups, type.group) &&
    covers(rule.apiVersions, type.version) &&
    resourceMatches &&
    scopeMatches
  );
}

function selectorMatches(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  const requirements = selectorRequirements(selector);
  return requirements.ok && requirements.requirements.every((r) => requirementMatches(r, labels));
}

function labelsOf(object: KubeObject | undefined): Labels {
  return (object?.metadata?.labels ?? {}) as Labels;
}

function webhookError(name: string, detail: string): KubeStatusError {
  return new KubeStatusError(
    'InternalError',
    500,
    `Internal error occurred: failed calling webhook "${name}": ${detail}`,
  );
}

/** The webhook's denial as the Status the API answers with (apiserver's `ToStatusErr`). */
function denial(name: string, status: AdmissionResponse['status']): KubeStatusError {
  const deniedBy = `admission webhook "${name}" denied the request`;
  const message = status?.message
    ? `${deniedBy}: ${status.message}`
    : status?.reason
      ? `${deniedBy}: ${status.reason}`
      : `${deniedBy} without explanation`;
  const code = status?.code && status.code >= 400 ? status.code : 400;
  return new KubeStatusError(status?.reason ?? '', code, message);
}

export class WebhookAdmission {
  constructor(
    private readonly store: KubeStore,
    private readonly resolveService: ServiceResolver = () => undefined,
  ) {}

  #webhooks(resource: string): Webhook[] {
    return this.store
      .list(`${webhookGroup}/${resource}`)
      .items.flatMap((configuration) => (configuration.webhooks ?? []) as Webhook[]);
  }

  #applies(webhook: Webhook, attributes: AdmissionAttributes): boolean {
    if (attributes.type.group === webhookGroup) return false;
    if (!(webhook.rules ?? []).some((rule) => ruleMatches(rule, attributes))) return false;
    const object = attributes.object ?? attributes.oldObject;
    if (
      !selectorMatches(webhook.objectSelector, labelsOf(attributes.object)) &&
      !selectorMatches(webhook.objectSelector, labelsOf(attributes.oldObject))
    ) {
      return false;
    }
    if (!webhook.namespaceSelector) return true;
    const namespaceLabels =
      attributes.type.resource === 'namespaces' && !attributes.type.group
        ? labelsOf(object)
        : attributes.namespace
          ? labelsOf(this.store.get('/namespaces', '', attributes.namespace))
          : undefined;
    return (
      namespaceLabels === undefined || selectorMatches(webhook.namespaceSelector, namespaceLabels)
    );
  }

  /** Mutating webhooks in order; returns the object as they left it. */
  async mutate(attributes: AdmissionAttributes): Promise<KubeObject | undefined> {
    let object = attributes.object;
    const webhooks = this.#webhooks('mutatingwebhookconfigurations').filter((webhook) =>
      this.#applies(webhook, attributes),
    );
    const reinvoke: Webhook[] = [];
    for (const [index, webhook] of webhooks.entries()) {
      const before = JSON.stringify(object);
      object = await this.#mutateWith(webhook, { ...attributes, ...(object ? { object } : {}) });
      if (JSON.stringify(object) !== before) {
        reinvoke.push(
          ...webhooks.slice(0, index).filter((w) => w.reinvocationPolicy === 'IfNeeded'),
        );
      }
    }
    for (const webhook of new Set(reinvoke)) {
      object = await this.#mutateWith(webhook, { ...attributes, ...(object ? { object } : {}) });
    }
    return object;
  }

  async #mutateWith(
    webhook: Webhook,
    attributes: AdmissionAttributes,
  ): Promise<KubeObject | undefined> {
    const response = await this.#call(webhook, attributes);
    if (!response?.patch || !attributes.object) return attributes.object;
    let operations: unknown;
    try {
      operations = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
    } catch {
      throw webhookError(webhook.name ?? '', 'the patch is not JSON');
    }
    try {
      return jsonPatch.applyPatch(
        structuredClone(attributes.object),
        operations as jsonPatch.Operation[],
        true,
        false,
      ).newDocument;
    } catch (error) {
      throw webhookError(
        webhook.name ?? '',
        `the patch does not apply: ${error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)}`,
      );
    }
  }

  /** Validating webhooks (all of them, in parallel as kube-apiserver does); any denial wins. */
  async validate(attributes: AdmissionAttributes): Promise<void> {
    const webhooks = this.#webhooks('validatingwebhookconfigurations').filter((webhook) =>
      this.#applies(webhook, attributes),
    );
    await Promise.all(webhooks.map((webhook) => this.#call(webhook, attributes)));
  }

  /** One call: the response when allowed; throws the denial, or the failure under `Fail`. */
  async #call(
    webhook: Webhook,
    attributes: AdmissionAttributes,
  ): Promise<AdmissionResponse | undefined> {
    const name = webhook.name ?? '';
    if (attributes.dryRun && !['None', 'NoneOnDryRun'].includes(webhook.sideEffects ?? '')) {
      throw new KubeStatusError(
        'BadRequest',
        400,
        `admission webhook "${name}" does not support dry run`,
      );
    }
    let response: AdmissionResponse;
    try {
      response = await this.#post(webhook, reviewOf(attributes));
    } catch (error) {
      if (webhook.failurePolicy === 'Ignore') return undefined;
      throw error instanceof KubeStatusError
        ? error
        : webhookError(
            name,
            `failed to call webhook: ${error instanceof Error ? error.message : String(error)}`,
          );
    }
    if (response.allowed !== true) throw denial(name, response.status);
    return response;
  }

  #post(webhook: Webhook, review: unknown): Promise<AdmissionResponse> {
    const name = webhook.name ?? '';
    const target = this.#target(webhook);
    const body = JSON.stringify(review);
    const timeoutMs = Math.min(Math.max(webhook.timeoutSeconds ?? 10, 1), 30) * 1000;
    const ca = webhook.clientConfig?.caBundle
      ? Buffer.from(webhook.clientConfig.caBundle, 'base64').toString('utf8')
      : undefined;
    return new Promise<AdmissionResponse>((resolve, reject) => {
      const outgoing = httpsRequest(
        target.url,
        {
          method: 'POST',
          ...(ca ? { ca } : {}),
          ...(target.serverName ? { servername: target.serverName } : {}),

          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
          },
          timeout: timeoutMs,
          agent: target.connect ? new RelayAgent(target.connect) : false,
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('end', () => {
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
                response?: AdmissionResponse;
              };
              if ((incoming.statusCode ?? 0) >= 300 || !parsed.response) {
                reject(
                  new Error(
                    `the webhook answered HTTP ${incoming.statusCode ?? 0} without an AdmissionReview response`,
                  ),
                );
                return;
              }
              resolve(parsed.response);
            } catch {
              reject(new Error('the webhook answered something that is not an AdmissionReview'));
            }
          });
        },
      );
      outgoing.on('timeout', () => {
        outgoing.destroy(new Error(`Post "${target.url}": context deadline exceeded`));
      });
      outgoing.on('error', (error) => {
        reject(
          error.message.startsWith('Post ')
            ? error
            : new Error(`Post "${target.url}": ${goWording(error, target.url)}`),
        );
      });
      outgoing.end(body);
    }).catch((error: unknown) => {
      throw error instanceof Error ? error : new Error(`${name}: ${String(error)}`);
    });
  }

  #target(webhook: Webhook): { url: string; serverName?: string; connect?: () => Duplex } {
    const config = webhook.clientConfig ?? {};
    if (config.url) return { url: config.url };
    const service = config.service;
    if (!service?.name || !service.namespace) {
      throw webhookError(webhook.name ?? '', 'the webhook has neither a url nor a service');
    }
    const resolved = this.resolveService({
      namespace: service.namespace,
      name: service.name,
      port: service.port ?? 443,
    });
    if (!resolved) {
      throw new Error(
        `service "${service.namespace}/${service.name}" is not reachable from the API server`,
      );
    }
    return {
      url: `${resolved.url}${service.path ?? ''}`,
      serverName: resolved.serverName,
      ...(resolved.connect ? { connect: resolved.connect } : {}),
    };
  }
}

/** A Node connection error in the words Go's HTTP client uses (what kubectl users know). */
function goWording(error: Error & { code?: string }, url: string): string {
  const { host, hostname } = new URL(url);
  const unknownAuthority =
    'tls: failed to verify certificate: x509: certificate signed by unknown authority';
  const wordings: Readonly<Record<string, string>> = {
    ECONNREFUSED: `dial tcp ${host}: connect: connection refused`,
    ENOTFOUND: `dial tcp: lookup ${hostname}: no such host`,
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: unknownAuthority,
    SELF_SIGNED_CERT_IN_CHAIN: unknownAuthority,
    DEPTH_ZERO_SELF_SIGNED_CERT: unknownAuthority,
    ERR_TLS_CERT_ALTNAME_INVALID: `tls: failed to verify certificate: x509: certificate is not valid for ${hostname}`,
  };
  return wordings[error.code ?? ''] ?? error.message;
}

/** The AdmissionReview v1 request a webhook receives. */
function reviewOf(attributes: AdmissionAttributes): unknown {
  const { type } = attributes;
  const kind = { group: type.group, version: type.version, kind: type.kind };
  const resource = { group: type.group, version: type.version, resource: type.resource };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind,
      resource,
      ...(attributes.subresource ? { subResource: attributes.subresource } : {}),
      requestKind: kind,
      requestResource: resource,
      name: attributes.name,
      ...(attributes.namespace ? { namespace: attributes.namespace } : {}),
      operation: attributes.operation,
      userInfo: attributes.user
        ? {
            username: attributes.user.username,
            uid: attributes.user.uid,
            groups: [...attributes.user.groups],
          }
        : {},
      object: attributes.operation === 'DELETE' ? null : (attributes.object ?? null),
      oldObject: attributes.operation === 'CREATE' ? null : (attributes.oldObject ?? null),
      dryRun: attributes.dryRun ?? false,
      options: {
        kind:
          attributes.operation === 'CREATE'
            ? 'CreateOptions'
            : attributes.operation === 'UPDATE'
              ? 'UpdateOptions'
              : 'DeleteOptions',
        apiVersion: 'meta.k8s.io/v1',
      },
    },
  };
}
