/**
 * The cloud's Prometheus metrics (prom-client), served at `GET /metrics` on its endpoint: API
 * calls by service and result, the size of the security-group world, how long each nftables
 * transaction of the VPC router takes, and the router's drop counters per ENI and direction
 * (read from the kernel at scrape time), beside Node.js process metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CloudService } from './cloud-service.js';

export class CloudMetrics {
  readonly registry = new Registry();
  readonly #requests = new Counter({
    name: 'sgpods_cloud_api_requests_total',
    help: 'AWS API requests served, by service and result (ok or the AWS error code).',
    labelNames: ['service', 'code'],
    registers: [this.registry],
  });
  readonly #nftApply = new Histogram({
    name: 'sgpods_cloud_nft_apply_seconds',
    help: 'Time nft took to apply one transaction of the VPC router.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(service: CloudService) {
    const { store } = service;
    new Gauge({
      name: 'sgpods_cloud_security_groups',
      help: 'Security groups in the cloud.',
      registers: [this.registry],
      collect() {
        this.set(store.groupCount());
      },
    });
    new Gauge({
      name: 'sgpods_cloud_security_group_rules',
      help: 'Security group rules (ingress and egress) in the cloud.',
      registers: [this.registry],
      collect() {
        this.set(store.rules().length);
      },
    });
    new Gauge({
      name: 'sgpods_cloud_network_interfaces',
      help: 'Network interfaces in the cloud.',
      registers: [this.registry],
      collect() {
        this.set(store.compute.networkInterfaces().length);
      },
    });
    const router = service.router;
    new Counter({
      name: 'sgpods_cloud_dropped_packets_total',
      help: "Packets the VPC router dropped because no rule of the ENI's groups allowed them.",
      labelNames: ['network_interface_id', 'direction'],
      registers: [this.registry],
      async collect() {
        if (!router) return;
        const counters = await router.dropCounters();
        this.reset();
        for (const [eniId, byDirection] of counters.byInterface) {
          this.inc({ network_interface_id: eniId, direction: 'egress' }, byDirection.egress);
          this.inc({ network_interface_id: eniId, direction: 'ingress' }, byDirection.ingress);
        }
      },
    });
    if (router) {
      router.onTransaction = (transaction) => {
        this.#nftApply.observe(transaction.nftMs / 1000);
      };
    }
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one served API request. */
  observeRequest(service: string, code: string): void {
    this.#requests.inc({ service, code });
  }

  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
