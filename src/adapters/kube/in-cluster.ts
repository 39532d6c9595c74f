/**
 * The in-cluster configuration every Kubernetes client reads inside a pod: the API server from
 * `KUBERNETES_SERVICE_HOST` / `KUBERNETES_SERVICE_PORT`, the service account's token and the
 * cluster CA from /var/run/secrets/kubernetes.io/serviceaccount.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConnection } from './kube-http-client.js';

export const serviceAccountDirectory = '/var/run/secrets/kubernetes.io/serviceaccount';

export function inClusterConnection(
  userAgent: string,
  env: NodeJS.ProcessEnv = process.env,
  directory = serviceAccountDirectory,
): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new Error(
      'unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined',
    );
  }
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    token: readFileSync(join(directory, 'token'), 'utf8').trim(),
    ca: readFileSync(join(directory, 'ca.crt'), 'utf8'),
    userAgent,
  };
}
