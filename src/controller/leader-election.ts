/**
 * Leader election on a Lease (`kube-system/cp-vpc-resource-controller`), as client-go's
 * leaderelection does it: acquire when the holder's lease has expired, renew every retry
 * period, and give leadership up (the process then exits, as controller-runtime's does) when a
 * renewal has not succeeded within the renew deadline.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeObjects } from './kube-objects.js';
import type { Logger } from './logger.js';

export const leaseName = 'cp-vpc-resource-controller';

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  readonly logger: Logger;
}

/** A MicroTime as the API writes it. */
function microTime(date: Date): string {
  return `${date.toISOString().slice(0, 23)}000Z`;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export class LeaderElector {
  readonly #objects: KubeObjects;
  #timer: NodeJS.Timeout | undefined;
  #leading = false;
  #lastRenewal = 0;
  #stopped = false;

  constructor(
    config: KubeConfig,
    private readonly options: LeaderElectionOptions,
  ) {
    this.#objects = new KubeObjects(config);
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    const tick = () => {
      if (this.#stopped) return;
      this.#tryAcquireOrRenew()
        .catch((error: unknown) => {
          this.options.logger.warn({ err: error }, 'leader election: lease update failed');
        })
        .finally(() => {
          this.#checkDeadline();
          if (!this.#stopped)
            this.#timer = setTimeout(tick, this.options.retryPeriodSeconds * 1000);
        });
    };
    tick();
  }

  #checkDeadline(): void {
    if (!this.#leading) return;
    if (Date.now() - this.#lastRenewal > this.options.renewDeadlineSeconds * 1000) {
      this.#leading = false;
      this.options.logger.error({ lease: leaseName }, 'leader election lost');
      this.options.onStoppedLeading();
    }
  }

  #ref() {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      name: leaseName,
      namespace: this.options.namespace,
    };
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const { namespace, identity, leaseDurationSeconds } = this.options;
    const now = new Date();
    const lease = await this.#objects.read(this.#ref());
    if (!lease) {
      const spec: LeaseSpec = {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      };
      await this.#objects.create({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: leaseName, namespace },
        spec,
      });
      this.#became(now);
      return;
    }
    const spec = (lease.spec ?? {}) as LeaseSpec;
    const holder = spec.holderIdentity ?? '';
    const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
    const duration = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    if (holder !== identity && holder !== '' && renewed + duration >= now.getTime()) return;
    const next: LeaseSpec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: microTime(now),
      ...(holder === identity
        ? {}
        : { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
    };
    await this.#objects.replace({ ...lease, spec: next });
    this.#became(now);
  }

  #became(now: Date): void {
    this.#lastRenewal = now.getTime();
    if (this.#leading) return;
    this.#leading = true;
    this.options.logger.info(
      { lease: leaseName, identity: this.options.identity },
      'became leader',
    );
    this.options.onStartedLeading();
  }

  /** Stops renewing and releases the lease if held (the next replica takes over at once). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leading) return;
    this.#leading = false;
    const lease = await this.#objects.read(this.#ref()).catch(() => undefined);
    const spec = (lease?.spec ?? {}) as LeaseSpec;
    if (!lease || spec.holderIdentity !== this.options.identity) return;
    await this.#objects
      .replace({ ...lease, spec: { ...spec, holderIdentity: '', leaseDurationSeconds: 1 } })
      .catch(() => undefined);
  }
}
