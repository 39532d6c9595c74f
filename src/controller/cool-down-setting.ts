/**
 * The branch-ENI cool-down (rc.md §4.6): `kube-system/amazon-vpc-cni` key `branch-eni-cooldown`
 * in seconds, 60 by default, never below 30; a key that disappears keeps the current value. A
 * change is announced to every node with `BranchENICoolDownPeriodUpdated`.
 */
import {
  branchEniCoolDownSeconds,
  coolDownUpdatedMessage,
  defaultCoolDownSeconds,
} from '../core/controller/branch-eni.js';
import type { ClusterInformers, PlainObject } from './cluster-informers.js';
import type { ControllerEvents } from './controller-events.js';
import type { Logger } from './logger.js';

export const coolDownKey = 'branch-eni-cooldown';

export class CoolDownSetting {
  #seconds = defaultCoolDownSeconds;

  constructor(
    private readonly informers: ClusterInformers,
    private readonly events: ControllerEvents,
    private readonly logger: Logger,
  ) {}

  get milliseconds(): number {
    return this.#seconds * 1000;
  }

  /** Reads the current value (the informers have synced), then follows changes. */
  start(): void {
    this.#seconds = branchEniCoolDownSeconds(this.informers.vpcCniConfig()?.data?.[coolDownKey]);
    this.logger.info({ seconds: this.#seconds }, 'branch ENI cool-down');
    this.informers.onVpcCniConfig((configMap, deleted) => {
      if (!deleted) this.#changed(configMap);
    });
  }

  #changed(configMap: PlainObject): void {
    const seconds = branchEniCoolDownSeconds(configMap.data?.[coolDownKey], this.#seconds);
    if (seconds === this.#seconds) return;
    this.#seconds = seconds;
    this.logger.info({ seconds }, 'branch ENI cool-down updated');
    for (const node of this.informers.nodes())
      this.events.node(
        node.metadata?.name ?? '',
        'Normal',
        'BranchENICoolDownPeriodUpdated',
        coolDownUpdatedMessage(seconds),
      );
  }
}
