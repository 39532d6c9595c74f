/**
 * The security-groups-for-pods controller (the resource controller's role): it installs the
 * CRDs it needs, serves the admission webhooks on every replica (certificate made and published
 * by itself), and, on the elected leader only, keeps namespaces labelled for fail-closed
 * admission, a CNINode per node, and the trunk and branch ENIs of pods (branch-eni-controllers). Kubernetes only through its API
 * (@kubernetes/client-node: in-cluster or a kubeconfig), so the same process runs in the
 * sandbox and on a real cluster. Health on `/healthz` and `/readyz`, metrics on `/metrics`.
 */
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api,
  KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { parse } from 'yaml';
import { startAdmissionServer } from './admission-server.js';
import { RateLimitedKubeConfig, TokenBucket } from './api-rate-limit.js';
import { BranchEniControllers } from './branch-eni-controllers.js';
import { CniNodeManager } from './cninode-manager.js';
import { ControllerMetrics } from './controller-metrics.js';
import type { ControllerSettings } from './controller-settings.js';
import { LeaderElector } from './leader-election.js';
import { createLogger, type Logger } from './logger.js';
import { NamespaceLabeller } from './namespace-labeller.js';
import { PolicyCache } from './policy-cache.js';
import { ensureWebhookCertificates, publishCaBundle } from './webhook-certificates.js';

export const bundledCrdDirectory = fileURLToPath(new URL('../../deploy/crds', import.meta.url));

export interface RunningController {
  readonly logger: Logger;
  /** The webhook server's port (the setting, or the one picked for port 0). */
  readonly webhookPort: number;
  readonly healthPort: number;
  readonly metricsPort: number;
  leading(): boolean;
  close(): Promise<void>;
}

/**
 * A client configuration with its own token bucket of `--apiserver-qps/burst`. Events get one
 * of their own, as client-go's event broadcaster has its own client: a burst of pod events must
 * not slow the pods' patches.
 */
function kubeConfigOf(settings: ControllerSettings): KubeConfig {
  const config = new RateLimitedKubeConfig(
    new TokenBucket(settings.apiserverQps, settings.apiserverBurst),
  );
  if (settings.kubeconfig) config.loadFromFile(settings.kubeconfig);
  else config.loadFromCluster();
  return config;
}

/** Creates the bundled CRDs that are missing (existing ones are left as they are). */
async function ensureCrds(config: KubeConfig, logger: Logger): Promise<void> {
  const api = config.makeApiClient(ApiextensionsV1Api);
  for (const file of readdirSync(bundledCrdDirectory).filter((name) => name.endsWith('.yaml'))) {
    const body = parse(
      readFileSync(join(bundledCrdDirectory, file), 'utf8'),
    ) as V1CustomResourceDefinition;
    const name = body.metadata?.name ?? '';
    const present = await api.readCustomResourceDefinition({ name }).then(
      () => true,
      (error: unknown) => {
        if ((error as { code?: number }).code === 404) return false;
        throw error;
      },
    );
    if (present) continue;
    await api.createCustomResourceDefinition({ body }).catch((error: unknown) => {
      if ((error as { code?: number }).code !== 409) throw error;
    });
    logger.info({ crd: name }, 'installed CRD');
  }
}

function listenHttp(
  address: { host: string; port: number },
  handler: Parameters<typeof createServer>[1],
): Promise<Server> {
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function portOf(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

export async function startController(settings: ControllerSettings): Promise<RunningController> {
  const logger = createLogger(settings.logLevel);
  const metrics = new ControllerMetrics();
  const config = kubeConfigOf(settings);
  await ensureCrds(config, logger);
  const cache = new PolicyCache(config, (error) => {
    logger.warn({ err: error }, 'policy cache: watch failed; resuming');
  });
  await cache.start();
  const certificates = await ensureWebhookCertificates(config, settings.webhookService);
  await publishCaBundle(config, certificates.authorityPem, logger);
  const webhooks = await startAdmissionServer({
    port: settings.webhookPort,
    tls: certificates.serving,
    resolve: (pod, namespace) => cache.resolve(pod, namespace),
    logger,
    metrics,
  });
  const health = await listenHttp(settings.healthProbeBindAddress, (request, response) => {
    const ok = request.url === '/healthz' || (request.url === '/readyz' && cache.synced);
    response.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
    response.end(ok ? 'ok' : 'not ready');
  });
  const metricsServer = await listenHttp(settings.metricsBindAddress, (request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    void metrics.registry.metrics().then((text) => {
      response.writeHead(200, { 'content-type': metrics.registry.contentType });
      response.end(text);
    });
  });

  const labeller = new NamespaceLabeller(config, cache, logger, metrics);
  const branchEnis = new BranchEniControllers(config, settings, {
    logger,
    metrics,
    cache,
    eventConfig: kubeConfigOf(settings),
  });
  const cniNodes = new CniNodeManager(config, settings.clusterName, logger, metrics, (instanceId) =>
    branchEnis.cleanUpInstance(instanceId),
  );
  const lead = () => {
    metrics.leader.set({ name: 'cp-vpc-resource-controller' }, 1);
    labeller.start();
    cniNodes.start().catch((error: unknown) => {
      logger.error({ err: error }, 'cninode manager failed to start');
    });
    branchEnis.start().catch((error: unknown) => {
      logger.error({ err: error }, 'branch ENI controllers failed to start');
    });
  };
  let elector: LeaderElector | undefined;
  if (settings.leaderElect) {
    // Its own client and token bucket, as client-go's leader election has: lease renewals never
    // queue behind a burst of pod work (which cost the leader its lease in the branch-enis bench).
    elector = new LeaderElector(kubeConfigOf(settings), {
      namespace: settings.webhookService.namespace,
      identity: `${hostname()}_${randomUUID()}`,
      leaseDurationSeconds: settings.leaseDurationSeconds,
      renewDeadlineSeconds: settings.renewDeadlineSeconds,
      retryPeriodSeconds: settings.retryPeriodSeconds,
      onStartedLeading: lead,
      // As controller-runtime: a replica that lost the lease exits; its Deployment restarts it.
      onStoppedLeading: () => process.exit(1),
      logger,
    });
    metrics.leader.set({ name: 'cp-vpc-resource-controller' }, 0);
    elector.start();
  } else lead();
  logger.info(
    { cluster: settings.clusterName, vpc: settings.vpcId, webhookPort: portOf(webhooks) },
    'controller started',
  );
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => {
        resolve();
      });
    });
  return {
    logger,
    webhookPort: portOf(webhooks),
    healthPort: portOf(health),
    metricsPort: portOf(metricsServer),
    leading: () => elector?.leading ?? true,
    close: async () => {
      await elector?.stop();
      labeller.stop();
      await cniNodes.stop();
      await branchEnis.stop();
      await cache.stop();
      await Promise.all([close(webhooks), close(health), close(metricsServer)]);
    },
  };
}
