/**
 * The leader's branch-ENI machinery put together: the EC2 gateway, the informers, the cool-down
 * setting, the trunk nodes, the pod allocator and the leak collector, started once the informers
 * have synced (a trunk's ledger is rebuilt from pods) and stopped in reverse.
 */
import { createRequire } from 'node:module';
import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterInformers } from './cluster-informers.js';
import { ControllerEvents } from './controller-events.js';
import type { ControllerMetrics } from './controller-metrics.js';
import type { ControllerSettings } from './controller-settings.js';
import { CoolDownSetting } from './cool-down-setting.js';
import { Ec2Gateway } from './ec2-gateway.js';
import { EniLeakCollector } from './eni-leak-collector.js';
import type { Logger } from './logger.js';
import { PodBranchEnis } from './pod-branch-enis.js';
import type { PolicyCache } from './policy-cache.js';
import { TrunkNodes } from './trunk-nodes.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
const cleanUpIntervalMs = 30 * 60_000;

export class BranchEniControllers {
  readonly gateway: Ec2Gateway;
  readonly informers: ClusterInformers;
  readonly trunks: TrunkNodes;
  readonly pods: PodBranchEnis;
  readonly #coolDown: CoolDownSetting;
  readonly #collector: EniLeakCollector;
  #started = false;
  readonly #logger: Logger;

  constructor(
    config: KubeConfig,
    settings: ControllerSettings,
    parts: {
      logger: Logger;
      metrics: ControllerMetrics;
      cache: PolicyCache;
      /** The configuration events are sent with (its own rate limit). */
      eventConfig: KubeConfig;
    },
  ) {
    const { logger } = parts;
    this.#logger = logger;
    this.gateway = new Ec2Gateway(
      {
        ...(settings.awsRegion ? { region: settings.awsRegion } : {}),
        qps: settings.userClientQps,
        burst: settings.userClientBurst,
      },
      parts.metrics.registry,
    );
    const events = new ControllerEvents(parts.eventConfig, logger);
    this.informers = new ClusterInformers(config, logger);
    this.#coolDown = new CoolDownSetting(this.informers, events, logger);
    const coolDownMs = () => this.#coolDown.milliseconds;
    this.trunks = new TrunkNodes({
      config,
      informers: this.informers,
      gateway: this.gateway,
      events,
      logger,
      clusterName: settings.clusterName,
      version: `v${version}`,
      coolDownMs,
      onNodeReady: (name) => {
        this.pods.queueNode(name);
      },
      onRoomMade: (name) => {
        this.pods.roomMade(name);
      },
    });
    this.pods = new PodBranchEnis({
      config,
      informers: this.informers,
      policies: parts.cache,
      trunks: this.trunks,
      gateway: this.gateway,
      events,
      logger,
      clusterName: settings.clusterName,
      behaviour: settings.behaviour,
      coolDownMs,
    });
    this.#collector = new EniLeakCollector({
      gateway: this.gateway,
      logger,
      clusterName: settings.clusterName,
      vpcId: settings.vpcId,
      intervalMs: cleanUpIntervalMs,
    });
  }

  async start(): Promise<void> {
    const started = Date.now();
    await this.informers.start();
    this.#logger.info(
      { ms: Date.now() - started },
      'caches of pods, nodes and CNINodes synced; managing trunk and branch ENIs',
    );
    this.#coolDown.start();
    this.trunks.start();
    this.pods.start();
    this.#collector.start();
    this.#started = true;
  }

  cleanUpInstance(instanceId: string): Promise<string[]> {
    return this.#collector.cleanUpInstance(instanceId);
  }

  async stop(): Promise<void> {
    this.#collector.stop();
    this.pods.stop();
    this.trunks.stop();
    if (this.#started) await this.informers.stop();
    this.gateway.destroy();
  }
}
