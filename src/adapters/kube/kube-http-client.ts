/**
 * A small Kubernetes API client for the cluster runtime's own components (scheduler, workload
 * controllers, kubelets): JSON requests over one keep-alive HTTPS agent, and streamed watches.
 * Refusals become `KubeStatusError` with the Status's reason and code, so callers branch on
 * `Conflict` / `NotFound` / `AlreadyExists` as client-go users do.
 *
 * Why not @kubernetes/client-node here: these components run hundreds of requests per second in
 * one process and need watches that resume from a resourceVersion and re-list on `Expired`;
 * client-node's informer stops on the first error. The controller (src/controller) uses
 * client-node, as a program running on a real cluster should.
 */
import { Agent, request as httpsRequest } from 'node:https';
import { KubeStatusError } from '../../core/errors.js';

export type KubeJson = Record<string, unknown>;

export interface KubeObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: KubeOwnerReference[];
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  creationTimestamp?: string;
  generateName?: string;
  finalizers?: string[];
}

export interface KubeOwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeResource {
  apiVersion?: string;
  kind?: string;
  metadata: KubeObjectMeta;
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
}

export interface KubeConnection {
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  readonly token: string;
  readonly ca: string;
  /** Sent as User-Agent: the API server derives the field manager from it. */
  readonly userAgent: string;
}

export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: KubeResource;
}

export interface WatchHandle {
  /** Resolves when the stream ends (server closed it, error, or `stop()`). */
  readonly done: Promise<void>;
  stop(): void;
}

/** The reason client-go gives a refusal whose body is no Status (`reasonForCode`). */
const reasonsByCode: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function refusal(status: number, text: string): KubeStatusError {
  const fallback = reasonsByCode[status] ?? 'InternalError';
  try {
    const body = JSON.parse(text) as { reason?: string; message?: string };
    return new KubeStatusError(body.reason ?? fallback, status, body.message ?? text);
  } catch {
    return new KubeStatusError(fallback, status, text.slice(0, 500));
  }
}

export class KubeHttpClient {
  readonly #agent: Agent;

  constructor(readonly connection: KubeConnection) {
    this.#agent = new Agent({ keepAlive: true, maxSockets: 32, ca: connection.ca });
  }

  #headers(contentType?: string, length?: number): Record<string, string | number> {
    return {
      authorization: `Bearer ${this.connection.token}`,
      accept: 'application/json',
      'user-agent': this.connection.userAgent,
      ...(contentType ? { 'content-type': contentType } : {}),
      ...(length !== undefined ? { 'content-length': length } : {}),
    };
  }

  /** One request; a JSON answer, or a `KubeStatusError` carrying the Status. */
  request<T = KubeJson>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const call = httpsRequest(
        `${this.connection.url}${path}`,
        {
          method,
          agent: this.#agent,
          headers: this.#headers(payload ? contentType : undefined, payload?.length ?? 0),
          timeout: 60_000,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              try {
                resolve((text ? JSON.parse(text) : {}) as T);
              } catch (error) {
                reject(error instanceof Error ? error : new Error(String(error)));
              }
            } else reject(refusal(status, text));
          });
        },
      );
      call.on('timeout', () => call.destroy(new Error(`${method} ${path}: timed out`)));
      call.on('error', reject);
      call.end(payload);
    });
  }

  get<T = KubeResource>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  create<T = KubeResource>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  replace<T = KubeResource>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  mergePatch<T = KubeResource>(path: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', path, patch, 'application/merge-patch+json');
  }

  delete<T = KubeJson>(path: string, options: KubeJson = {}): Promise<T> {
    return this.request<T>('DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', ...options });
  }

  /**
   * A watch from `resourceVersion`: events in order, each handed to `onEvent` (awaited, so a
   * slow consumer applies back-pressure instead of buffering without bound).
   */
  watch(path: string, resourceVersion: string, onEvent: (event: WatchEvent) => void): WatchHandle {
    const separator = path.includes('?') ? '&' : '?';
    const url = `${this.connection.url}${path}${separator}watch=true&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(resourceVersion)}`;
    let stop = (): void => undefined;
    const done = new Promise<void>((resolve, reject) => {
      const call = httpsRequest(
        url,
        { method: 'GET', agent: this.#agent, headers: this.#headers() },
        (response) => {
          const status = response.statusCode ?? 0;
          if (status !== 200) {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => {
              reject(refusal(status, Buffer.concat(chunks).toString()));
            });
            return;
          }
          let pending = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            pending += chunk;
            let newline = pending.indexOf('\n');
            while (newline >= 0) {
              const line = pending.slice(0, newline).trim();
              pending = pending.slice(newline + 1);
              if (line) onEvent(JSON.parse(line) as WatchEvent);
              newline = pending.indexOf('\n');
            }
          });
          response.on('end', () => {
            resolve();
          });
          response.on('error', () => {
            resolve();
          });
          response.on('close', () => {
            resolve();
          });
        },
      );
      call.on('error', (error) => {
        if (call.destroyed) resolve();
        else reject(error);
      });
      stop = () => {
        call.destroy();
        resolve();
      };
      call.end();
    });
    return {
      done,
      stop: () => {
        stop();
      },
    };
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** `/api/v1/namespaces/<ns>/pods` and friends: the path of a collection or one object. */
export function resourcePath(
  apiVersion: string,
  resource: string,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const scoped = namespace ? `${base}/namespaces/${namespace}/${resource}` : `${base}/${resource}`;
  return [scoped, name, subresource].filter(Boolean).join('/');
}

export function isStatus(error: unknown, ...reasons: string[]): error is KubeStatusError {
  return error instanceof KubeStatusError && reasons.includes(error.reason);
}
