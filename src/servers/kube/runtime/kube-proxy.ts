/**
 * kube-proxy for one node: Services and their EndpointSlices (shared informers) become the
 * node namespace's nftables table (core/kube/proxy-rules.ts), rewritten as one atomic
 * transaction whenever they change (changes within 50 ms coalesce). Only ready endpoints serve.
 */
import { runCommand } from '../../../adapters/exec/run-command.js';
import type { KubeResource } from '../../../adapters/kube/kube-http-client.js';
import { proxyRuleset, type ProxyServicePort } from '../../../core/kube/proxy-rules.js';
import type { ClusterInformers } from './cluster-informers.js';
import { serviceNameLabel } from './endpoints-controller.js';

type Json = Record<string, unknown>;

const protocolOf = (value: unknown): 'tcp' | 'udp' | 'sctp' =>
  value === 'UDP' ? 'udp' : value === 'SCTP' ? 'sctp' : 'tcp';

/** The ClusterIP ports of every Service with the ready endpoints of its slices. */
export function servicePorts(
  services: readonly KubeResource[],
  slices: readonly KubeResource[],
): ProxyServicePort[] {
  const ports: ProxyServicePort[] = [];
  for (const service of services) {
    const spec = (service.spec ?? {}) as Json;
    const clusterIp = spec.clusterIP;
    if (typeof clusterIp !== 'string' || clusterIp === '' || clusterIp === 'None') continue;
    const { namespace, name } = service.metadata;
    const own = slices.filter(
      (slice) =>
        slice.metadata.namespace === namespace &&
        slice.metadata.labels?.[serviceNameLabel] === name,
    );
    for (const servicePort of (spec.ports ?? []) as Json[]) {
      const portName = typeof servicePort.name === 'string' ? servicePort.name : '';
      const endpoints = own.flatMap((slice) => {
        const slicePort = ((slice.ports ?? []) as Json[]).find(
          (port) => (port.name ?? '') === portName,
        );
        if (typeof slicePort?.port !== 'number') return [];
        const port = slicePort.port;
        return ((slice.endpoints ?? []) as Json[])
          .filter((endpoint) => (endpoint.conditions as Json | undefined)?.ready !== false)
          .flatMap((endpoint) =>
            ((endpoint.addresses ?? []) as string[]).map((ip) => ({ ip, port })),
          );
      });
      ports.push({
        id: `${namespace ?? ''}/${name ?? ''}:${portName}`,
        clusterIp,
        port: Number(servicePort.port),
        protocol: protocolOf(servicePort.protocol),
        endpoints,
      });
    }
  }
  return ports;
}

export class KubeProxy {
  #timer: NodeJS.Timeout | undefined;
  #applied = '';
  #applying: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(
    readonly namespace: string,
    readonly informers: ClusterInformers,
    readonly onError: (error: unknown) => void,
  ) {
    informers.services.onChange(() => {
      this.#schedule();
    });
    informers.endpointSlices.onChange(() => {
      this.#schedule();
    });
  }

  /** Writes the current rules (also when nothing changed since: a restart's first sync). */
  sync(): Promise<void> {
    const ruleset = proxyRuleset(
      servicePorts(this.informers.services.list(), this.informers.endpointSlices.list()),
    );
    this.#applying = this.#applying.then(async () => {
      if (this.#closed || ruleset === this.#applied) return;
      await runCommand(['nsenter', `--net=/run/netns/${this.namespace}`, 'nft', '-f', '-'], {
        input: ruleset,
      });
      this.#applied = ruleset;
    });
    return this.#applying;
  }

  #schedule(): void {
    if (this.#closed || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.sync().catch(this.onError);
    }, 50);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}
