/**
 * Leaked ENIs outside any trunk's ledger (rc.md §4.9-4, §4.9-5): when a node's CNINode is
 * finalised, every available ENI the controller or the VPC CNI made for its instance is
 * deleted; and every 30 minutes on the leader, available ENIs owned by them and tagged with
 * the cluster are deleted if they were already available at the previous scan (two strikes,
 * so an ENI between creation and attachment is never taken).
 */
import type { Ec2Gateway } from './ec2-gateway.js';
import type { Logger } from './logger.js';
import { availableOwnedEnis, deleteInterface, instanceTag } from './trunk-eni-calls.js';

export interface EniLeakCollectorOptions {
  readonly gateway: Ec2Gateway;
  readonly logger: Logger;
  readonly clusterName: string;
  readonly vpcId: string;
  /** Upstream: 30 minutes. */
  readonly intervalMs: number;
}

export class EniLeakCollector {
  #previous = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: EniLeakCollectorOptions) {}

  start(): void {
    this.#timer = setInterval(() => {
      this.sweep().catch((error: unknown) => {
        this.options.logger.warn({ err: error }, 'ENI leak scan failed');
      });
    }, this.options.intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One cluster-wide scan; returns the ENIs deleted. */
  async sweep(): Promise<string[]> {
    const { gateway, vpcId, clusterName } = this.options;
    const found = new Set([
      ...(await availableOwnedEnis(gateway, vpcId, [
        { Name: 'tag:cluster.k8s.amazonaws.com/name', Values: [clusterName] },
      ])),
      ...(await availableOwnedEnis(gateway, vpcId, [
        { Name: `tag:kubernetes.io/cluster/${clusterName}`, Values: ['owned'] },
      ])),
    ]);
    const leaked = [...found].filter((eniId) => this.#previous.has(eniId));
    this.#previous = new Set([...found].filter((eniId) => !leaked.includes(eniId)));
    return this.#deleteAll(leaked, 'leaked ENI deleted');
  }

  /** The available ENIs made for a terminated instance (its CNINode is being finalised). */
  async cleanUpInstance(instanceId: string): Promise<string[]> {
    const found = await availableOwnedEnis(this.options.gateway, this.options.vpcId, [
      { Name: `tag:${instanceTag}`, Values: [instanceId] },
    ]);
    return this.#deleteAll(found, 'ENI of a terminated instance deleted');
  }

  async #deleteAll(eniIds: readonly string[], message: string): Promise<string[]> {
    const deleted: string[] = [];
    for (const eniId of eniIds) {
      try {
        await deleteInterface(this.options.gateway, eniId);
        deleted.push(eniId);
        this.options.logger.info({ eni: eniId }, message);
      } catch (error) {
        this.options.logger.warn({ eni: eniId, err: error }, 'ENI not deleted');
      }
    }
    return deleted;
  }
}
