/**
 * aws-node's Prometheus metrics (prom-client), on upstream's metrics port 61678 (`/metrics`) of
 * the node (aws-node runs in the host network): upstream's ipamd names where they exist —
 * `awscni_add_ip_req_count`, `awscni_del_ip_req_count`, `awscni_assigned_ip_addresses`,
 * `awscni_total_ip_addresses` — and how each CNI request of the plugin ended.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export const agentMetricsPort = 61678;

export type CniOutcome = 'regular' | 'branch' | 'wait' | 'refuse' | 'error';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly #adds = new Counter({
    name: 'awscni_add_ip_req_count',
    help: 'The number of add IP address requests',
    registers: [this.registry],
  });
  readonly #dels = new Counter({
    name: 'awscni_del_ip_req_count',
    help: 'The number of delete IP address requests',
    registers: [this.registry],
  });
  readonly #outcomes = new Counter({
    name: 'sgpods_agent_cni_add_total',
    help: 'CNI ADD requests by outcome: regular or branch pod wired, wait (try again), refuse (fail-closed), error.',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  constructor(pool: { assigned: () => number; total: () => number }) {
    new Gauge({
      name: 'awscni_assigned_ip_addresses',
      help: 'The number of IP addresses assigned to pods',
      registers: [this.registry],
      collect() {
        this.set(pool.assigned());
      },
    });
    new Gauge({
      name: 'awscni_total_ip_addresses',
      help: 'The total number of IP addresses',
      registers: [this.registry],
      collect() {
        this.set(pool.total());
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  observeAdd(outcome: CniOutcome): void {
    this.#adds.inc();
    this.#outcomes.inc({ outcome });
  }

  observeDel(): void {
    this.#dels.inc();
  }

  /** Serves `/metrics` on all addresses of the node, port 61678. */
  async serve(port = agentMetricsPort): Promise<Server> {
    const server = createServer((request, response) => {
      if (request.method !== 'GET' || request.url !== '/metrics') {
        response.writeHead(404).end();
        return;
      }
      void this.registry.metrics().then((text) => {
        response.writeHead(200, { 'content-type': this.registry.contentType }).end(text);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server;
  }
}
