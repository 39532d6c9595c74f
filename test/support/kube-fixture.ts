/**
 * A local API server in its own home for a test, with the machine's kubectl (its own
 * KUBECACHEDIR, so discovery is never stale between tests) and plain HTTPS calls as the admin.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startKubeApiServer,
  type KubeApiServerOptions,
  type KubeApiServer,
} from '../../src/servers/kube/kube-api-server.js';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CallResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Record<string, unknown>;
}

export interface CallOptions {
  readonly body?: string | Buffer;
  readonly contentType?: string;
  readonly accept?: string;
  /** '' sends no Authorization header. */
  readonly token?: string;
}

export interface KubeFixture {
  readonly home: string;
  /** The running server (a new one after `restart`). */
  readonly server: KubeApiServer;
  /** Stops the server, runs `meanwhile` (e.g. edits the storage), starts it on the same port. */
  restart(meanwhile?: () => void): Promise<void>;
  readonly token: string;
  readonly ca: string;
  kubectl(args: readonly string[], stdin?: string): Promise<CommandResult>;
  /** A long-running kubectl (`get -w`); the caller kills it. */
  spawnKubectl(args: readonly string[]): ChildProcess;
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  close(): Promise<void>;
}

export async function startKubeFixture(
  options: Omit<KubeApiServerOptions, 'home'> = {},
): Promise<KubeFixture> {
  const home = mkdtempSync(join(tmpdir(), 'sgpods-kube-'));
  let server = await startKubeApiServer({ home, ...options });
  const ca = readFileSync(join(home, 'pki', 'ca.crt'), 'utf8');
  const token = readFileSync(join(home, 'kube-tokens.csv'), 'utf8').split(',')[0] ?? '';
  const env = {
    ...process.env,
    KUBECONFIG: server.kubeconfigPath,
    KUBECACHEDIR: join(home, 'cache'),
  };
  const kubectl = (args: readonly string[], stdin?: string): Promise<CommandResult> =>
    new Promise((resolve) => {
      const child = execFile(
        'kubectl',
        [...args],
        { env, timeout: 60_000 },
        (error, stdout, stderr) => {
          resolve({
            code: error ? (typeof error.code === 'number' ? error.code : -1) : 0,
            stdout,
            stderr,
          });
        },
      );
      child.stdin?.end(stdin);
    });
  const call = (method: string, path: string, callOptions: CallOptions = {}): Promise<CallResult> =>
    new Promise((resolve, reject) => {
      const request = httpsRequest(
        `${server.url}${path}`,
        {
          method,
          ca,
          agent: false,
          headers: {
            ...(callOptions.token !== ''
              ? { Authorization: `Bearer ${callOptions.token ?? token}` }
              : {}),
            'Content-Type': callOptions.contentType ?? 'application/json',
            // Node sends a DELETE body unframed unless its length is given.
            ...(callOptions.body !== undefined
              ? { 'Content-Length': Buffer.byteLength(callOptions.body) }
              : {}),
            ...(callOptions.accept ? { Accept: callOptions.accept } : {}),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<
                string,
                unknown
              >,
            });
          });
        },
      );
      request.on('error', reject);
      request.end(callOptions.body);
    });
  return {
    home,
    get server() {
      return server;
    },
    restart: async (meanwhile) => {
      const port = server.port;
      await server.close();
      meanwhile?.();
      server = await startKubeApiServer({ home, ...options, port });
    },
    token,
    ca,
    kubectl,
    spawnKubectl: (args) => spawn('kubectl', [...args], { env }),
    call,
    close: async () => {
      await server.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
