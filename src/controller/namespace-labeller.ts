/**
 * Fail-closed admission, the part the controller keeps: every namespace that holds at least one
 * SecurityGroupPolicy carries the label below, and loses it when its last policy goes. The pod
 * webhook is registered twice with complementary namespaceSelectors — `failurePolicy: Fail`
 * where the label is, `Ignore` elsewhere — so a pod that could match a policy is never admitted
 * unseen while the webhook is down, and namespaces without policies never depend on it.
 */
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import type { ControllerMetrics } from './controller-metrics.js';
import type { Logger } from './logger.js';
import type { PolicyCache } from './policy-cache.js';

export const policyNamespaceLabel = 'sgpods.io/security-group-policies';

export class NamespaceLabeller {
  readonly #core: CoreV1Api;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(
    config: KubeConfig,
    private readonly cache: PolicyCache,
    private readonly logger: Logger,
    private readonly metrics: ControllerMetrics,
  ) {
    this.#core = config.makeApiClient(CoreV1Api);
  }

  start(): void {
    for (const event of ['add', 'update', 'delete'] as const) {
      this.cache.policies.on(event, () => {
        this.schedule();
      });
    }
    this.schedule();
    this.#timer = setInterval(() => {
      this.schedule();
    }, 30_000);
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  /** Reconciles soon; changes arriving meanwhile are folded into one more pass. */
  schedule(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#reconcile()
      .catch((error: unknown) => {
        this.logger.warn({ err: error }, 'namespace labels: reconcile failed; retrying');
        this.#again = true;
      })
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          setTimeout(() => {
            this.schedule();
          }, 200);
        }
      });
  }

  async #reconcile(): Promise<void> {
    const wanted = new Set(
      this.cache.policies.list().map((policy) => policy.metadata?.namespace ?? ''),
    );
    const { items } = await this.#core.listNamespace();
    const options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    for (const namespace of items) {
      const name = namespace.metadata?.name ?? '';
      const labelled = policyNamespaceLabel in (namespace.metadata?.labels ?? {});
      const should = wanted.has(name) && namespace.status?.phase !== 'Terminating';
      if (labelled === should) continue;
      await this.#core.patchNamespace(
        {
          name,
          body: { metadata: { labels: { [policyNamespaceLabel]: should ? 'present' : null } } },
        },
        options,
      );
      this.metrics.namespaceLabels.inc({ change: should ? 'labelled' : 'unlabelled' });
      this.logger.info({ namespace: name, labelled: should }, 'namespace policy label');
    }
  }
}
