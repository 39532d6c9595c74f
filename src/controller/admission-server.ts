/**
 * The webhook server (port 9443, as controller-runtime's): AdmissionReview v1 over HTTPS on the
 * resource controller's paths — `/mutate-v1-pod`, `/validate-v1-pod`, `/validate-v1-node` —
 * answering as controller-runtime does (a denial is 403 `Forbidden` with the upstream message,
 * a mutation a JSON patch). Served by every replica, leader or not.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readLimitedBody } from '../adapters/http/read-body.js';
import {
  mutatePod,
  podPathOf,
  validateNodeUpdate,
  validatePod,
  type AdmissionDecision,
} from '../core/controller/pod-admission.js';
import type { PodSecurityGroups } from '../core/policy/resolve-pod-security-groups.js';
import type { ControllerMetrics } from './controller-metrics.js';
import type { Logger } from './logger.js';

type Json = Record<string, unknown>;

export interface AdmissionRequest {
  readonly uid?: string;
  readonly operation?: string;
  readonly namespace?: string;
  readonly userInfo?: { readonly username?: string };
  readonly object?: Json;
  readonly oldObject?: Json;
}

export interface AdmissionServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly tls: { readonly certificatePem: string; readonly keyPem: string };
  readonly resolve: (pod: Json, namespace: string) => Promise<PodSecurityGroups>;
  readonly logger: Logger;
  readonly metrics: ControllerMetrics;
}

export async function decide(
  path: string,
  request: AdmissionRequest,
  resolve: AdmissionServerOptions['resolve'],
): Promise<AdmissionDecision | undefined> {
  const object = request.object ?? {};
  const username = request.userInfo?.username ?? '';
  switch (path) {
    case '/mutate-v1-pod': {
      const metadata = (object.metadata ?? {}) as Json;
      const namespace = (metadata.namespace as string | undefined) || request.namespace || '';
      const needsGroups = ['linux', 'fargate'].includes(podPathOf(object));
      const groups = needsGroups
        ? await resolve(object, namespace).catch((error: unknown): PodSecurityGroups => ({
            ok: false,
            error: error instanceof Error ? error.message : String(error),
          }))
        : undefined;
      return mutatePod(object, () => groups ?? { ok: true, groupIds: [], judgements: [] });
    }
    case '/validate-v1-pod':
      return validatePod(request.operation ?? '', object, request.oldObject, username);
    case '/validate-v1-node':
      return request.operation === 'UPDATE'
        ? validateNodeUpdate(username, object, request.oldObject)
        : { allowed: true, reason: `${request.operation ?? ''} is not checked` };
    default:
      return undefined;
  }
}

function reviewOf(uid: string, decision: AdmissionDecision): Json {
  const response: Json = decision.allowed
    ? { uid, allowed: true, status: { code: 200, message: decision.reason } }
    : {
        uid,
        allowed: false,
        status: { code: 403, reason: 'Forbidden', message: decision.reason },
      };
  if (decision.allowed && decision.patch && decision.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(decision.patch)).toString('base64');
  }
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

async function handle(
  options: AdmissionServerOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const started = performance.now();
  const path = (request.url ?? '').split('?')[0] ?? '';
  const reply = (status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  try {
    if (request.method !== 'POST') {
      reply(405, { message: 'only POST' });
      return;
    }
    const body = await readLimitedBody(request, 8 * 1024 * 1024, () => new Error('body too large'));
    const review = JSON.parse(body.toString('utf8')) as { request?: AdmissionRequest };
    const admission = review.request;
    if (!admission?.uid) {
      reply(400, { message: 'an AdmissionReview with a request is expected' });
      return;
    }
    const decision = await decide(path, admission, options.resolve);
    if (!decision) {
      reply(404, { message: `no webhook at ${path}` });
      return;
    }
    options.metrics.webhookRequest(path, decision.allowed, (performance.now() - started) / 1000);
    options.logger.debug(
      { path, uid: admission.uid, allowed: decision.allowed, reason: decision.reason },
      'admission',
    );
    reply(200, reviewOf(admission.uid, decision));
  } catch (error) {
    options.logger.error({ path, err: error }, 'admission request failed');
    reply(400, { message: error instanceof Error ? error.message : String(error) });
  }
}

export function startAdmissionServer(options: AdmissionServerOptions): Promise<Server> {
  const server = createServer(
    { cert: options.tls.certificatePem, key: options.tls.keyPem },
    (request, response) => {
      void handle(options, request, response);
    },
  );
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
