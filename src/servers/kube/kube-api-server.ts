/**
 * The local Kubernetes API server: HTTPS with the home's CA, static bearer tokens, the HTTP API
 * (kube-api.ts) over SQLite storage (kube-store.ts), and the server's own controllers
 * (namespace finalisation, CRD cleanup, garbage collection). `<home>/kubeconfig` reaches it as
 * the admin.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ensureServingCertificates } from '../../adapters/tls/certificates.js';
import { KubeStatusError } from '../../core/errors.js';
import { apiServerServiceIp } from '../../core/kube/services.js';
import { AccessControl } from './access-control.js';
import type { ServiceResolver } from './admission-webhooks.js';
import { endpointResolver, type ServiceNetwork } from './service-endpoints.js';
import { ensureTokens, readTokens } from './authentication.js';
import { KubeApi, sendJson } from './kube-api.js';
import { defaultServiceCidr } from './object-writes.js';
import { ServerControllers } from './server-controllers.js';
import { ServiceAccountTokens } from './service-account-tokens.js';
import { statusBody } from './status-errors.js';
import { KubeStore, type KubeObject } from './storage/kube-store.js';

export { initialNamespaces, servedVersion } from './kube-api.js';
export type { UserInfo } from './authentication.js';

export interface KubeApiServerOptions {
  readonly home: string;
  /** 0 picks a free port. Bound to loopback. */
  readonly port?: number;
  /** Changes kept for watches (see KubeStore); older resourceVersions are `Expired`. */
  readonly historySize?: number;
  /** Where admission webhooks' services are reachable (the sandbox wires its cluster network). */
  readonly resolveService?: ServiceResolver;
  /** Webhook Services reached at their endpoints through this network (the sandbox's VPC). */
  readonly serviceNetwork?: ServiceNetwork;
  /** CRD manifests (YAML, one or more documents) created or updated at start. */
  readonly crdManifests?: readonly string[];
  /** Where kubelets write container logs (default `<home>/pod-logs`). */
  readonly podLogDirectory?: string;
  /**
   * Where pods reach the API server (the `kubernetes` Service's endpoint); default: the loopback
   * address and port it listens on.
   */
  readonly advertise?: { readonly address: string; readonly port: number };
  /** Also serve on this unix socket (a forwarder inside a cluster network connects to it). */
  readonly socketPath?: string;
  /** Extra names and addresses the serving certificate must cover. */
  readonly certificateNames?: readonly string[];
  /** BOOKMARK interval for watches that allow them. */
  readonly bookmarkIntervalMs?: number;
  readonly onInternalError?: (error: unknown) => void;
}

export interface KubeApiServer {
  readonly url: string;
  readonly port: number;
  readonly store: KubeStore;
  readonly api: KubeApi;
  readonly kubeconfigPath: string;
  /** Resolves when the server's own controllers have nothing queued. */
  idle(): Promise<void>;
  /** Ends every open watch cleanly (clients re-watch from their last resourceVersion). */
  endWatches(): void;
  close(): Promise<void>;
}

/** The CRDs EKS installs in every cluster (SecurityGroupPolicy, CNINode): `deploy/crds`. */
export const bundledCrdDirectory = fileURLToPath(new URL('../../../deploy/crds', import.meta.url));

/** Accepts connections on a unix socket (replacing a stale one) and hands them to `accept`. */
async function listenOnSocket(path: string, accept: (socket: Socket) => void): Promise<NetServer> {
  rmSync(path, { force: true });
  const unixServer = createNetServer(accept);
  await new Promise<void>((resolve, reject) => {
    unixServer.once('error', reject);
    unixServer.listen(path, resolve);
  });
  return unixServer;
}

/**
 * The `default/kubernetes` Service (the first address of the service range, port 443) and its
 * Endpoints and EndpointSlice naming where pods reach the API server, as kube-apiserver keeps them.
 */
async function ensureKubernetesService(
  api: KubeApi,
  advertise: { readonly address: string; readonly port: number },
): Promise<void> {
  const ports = [{ name: 'https', port: advertise.port, protocol: 'TCP' }];
  const labels = { component: 'apiserver', provider: 'kubernetes' };
  const wanted: [string, string, string, KubeObject][] = [
    [
      '',
      'v1',
      'services',
      {
        metadata: { name: 'kubernetes', namespace: 'default', labels },
        spec: {
          type: 'ClusterIP',
          clusterIP: apiServerServiceIp(api.writer.serviceCidr),
          ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: advertise.port }],
          sessionAffinity: 'None',
        },
      },
    ],
    [
      '',
      'v1',
      'endpoints',
      {
        metadata: {
          name: 'kubernetes',
          namespace: 'default',
          labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' },
        },
        subsets: [{ addresses: [{ ip: advertise.address }], ports }],
      },
    ],
    [
      'discovery.k8s.io',
      'v1',
      'endpointslices',
      {
        metadata: {
          name: 'kubernetes',
          namespace: 'default',
          labels: { 'kubernetes.io/service-name': 'kubernetes' },
        },
        addressType: 'IPv4',
        endpoints: [{ addresses: [advertise.address], conditions: { ready: true } }],
        ports,
      },
    ],
  ];
  for (const [group, version, resource, object] of wanted) {
    const type = api.registry.find(group, version, resource);
    if (!type) continue;
    const name = object.metadata?.name ?? '';
    if (api.store.get(`${group}/${resource}`, 'default', name)) {
      await api.writer.update(type, 'default', name, (current) => ({
        ...current,
        ...object,
        metadata: { ...current.metadata, ...object.metadata },
        ...(resource === 'services'
          ? {
              spec: {
                ...(current.spec as object),
                ports: (object.spec as { ports: unknown }).ports,
              },
            }
          : {}),
      }));
    } else {
      await api.writer.create(type, 'default', object);
    }
  }
}

/** Creates or replaces each CRD of the manifests, as `kubectl apply` would at cluster start. */
async function installCrds(api: KubeApi, paths: readonly string[]): Promise<void> {
  const type = api.registry.find('apiextensions.k8s.io', 'v1', 'customresourcedefinitions');
  if (!type) return;
  for (const path of paths) {
    for (const document of parseAllDocuments(readFileSync(path, 'utf8'))) {
      const crd = document.toJS() as KubeObject | null;
      const name = crd?.metadata?.name;
      if (!crd || !name) continue;
      if (api.store.get('apiextensions.k8s.io/customresourcedefinitions', '', name)) {
        await api.writer.update(type, '', name, (current) => ({
          ...crd,
          metadata: { ...current.metadata, ...crd.metadata },
        }));
      } else {
        await api.writer.create(type, '', crd);
      }
    }
  }
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

export async function startKubeApiServer(options: KubeApiServerOptions): Promise<KubeApiServer> {
  const { home } = options;
  const { authority, serving } = ensureServingCertificates(join(home, 'pki'), 'apiserver', [
    'localhost',
    '127.0.0.1',
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    'kubernetes.default.svc.cluster.local',
    apiServerServiceIp(defaultServiceCidr),
    ...(options.certificateNames ?? []),
  ]);
  const tokens = ensureTokens(home);
  const store = KubeStore.open(join(home, 'kube.sqlite'), {
    ...(options.historySize !== undefined ? { historySize: options.historySize } : {}),
  });
  const reportError = options.onInternalError ?? (() => undefined);
  const serviceAccountTokens = new ServiceAccountTokens(join(home, 'pki', 'service-account.key'));
  const access = new AccessControl(store, readTokens(tokens.path), serviceAccountTokens);
  const api = new KubeApi(store, access, serviceAccountTokens, {
    podLogDirectory: options.podLogDirectory ?? join(home, 'pod-logs'),
    ...(options.resolveService
      ? { resolveService: options.resolveService }
      : options.serviceNetwork
        ? { resolveService: endpointResolver(store, options.serviceNetwork) }
        : {}),
    ...(options.bookmarkIntervalMs !== undefined
      ? { bookmarkIntervalMs: options.bookmarkIntervalMs }
      : {}),
  });
  await api.ensureBootstrapPolicy();
  await api.ensureInitialNamespaces();
  await installCrds(api, options.crdManifests ?? []);
  const controllers = new ServerControllers(store, api.registry, api.writer, reportError);
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
        reportError(error);
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
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `https://127.0.0.1:${port}`;
  const unixServer = options.socketPath
    ? await listenOnSocket(options.socketPath, (socket) => server.emit('connection', socket))
    : undefined;
  await ensureKubernetesService(api, options.advertise ?? { address: '127.0.0.1', port });
  const kubeconfigPath = join(home, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigOf(url, authority.certificatePem, tokens.adminToken), {
    mode: 0o600,
  });
  return {
    url,
    port,
    store,
    api,
    kubeconfigPath,
    idle: () => controllers.idle(),
    endWatches: () => {
      api.endWatches();
    },
    close: () =>
      new Promise((resolve) => {
        controllers.stop();
        api.endWatches();
        unixServer?.close();
        server.close(() => {
          store.close();
          resolve();
        });
        // Also the sockets HTTP does not track yet (mid-handshake): close waits for every one.
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      }),
  };
}
