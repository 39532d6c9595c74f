/**
 * Prometheus metrics (prom-client), with upstream's names where they exist (rc.md §6.2):
 * `sgp_enabled`, the webhook's request counter and latency, the leader flag, and what the
 * namespace labeller and the CNINode manager do; Node.js process metrics beside them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly #webhookRequests = new Counter({
    name: 'controller_runtime_webhook_requests_total',
    help: 'Total number of admission requests by HTTP status code.',
    labelNames: ['webhook', 'code'],
    registers: [this.registry],
  });
  readonly #webhookLatency = new Histogram({
    name: 'controller_runtime_webhook_latency_seconds',
    help: 'Histogram of the latency of processing admission requests',
    labelNames: ['webhook'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly #decisions = new Counter({
    name: 'sgpods_webhook_decisions_total',
    help: 'Admission decisions by webhook path and outcome.',
    labelNames: ['webhook', 'allowed'],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'leader_election_master_status',
    help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly namespaceLabels = new Counter({
    name: 'sgpods_namespace_label_changes_total',
    help: 'Namespaces labelled or unlabelled for fail-closed admission.',
    labelNames: ['change'],
    registers: [this.registry],
  });
  readonly cniNodeOperations = new Counter({
    name: 'sgpods_cninode_operations_total',
    help: 'CNINode creations and repairs by the controller.',
    labelNames: ['operation'],
    registers: [this.registry],
  });
  readonly recreateCniNodeCalls = new Counter({
    name: 'recreate_cniNode_call_count',
    help: 'The number of requests to recreate CNINode',
    registers: [this.registry],
  });

  constructor() {
    new Gauge({
      name: 'sgp_enabled',
      help: 'Binary value to indicate whether user has enabled Security Groups for Pods',
      registers: [this.registry],
    }).set(1);
    collectDefaultMetrics({ register: this.registry });
  }

  webhookRequest(path: string, allowed: boolean, seconds: number): void {
    this.#webhookRequests.inc({ webhook: path, code: '200' });
    this.#webhookLatency.observe({ webhook: path }, seconds);
    this.#decisions.inc({ webhook: path, allowed: String(allowed) });
  }
}
