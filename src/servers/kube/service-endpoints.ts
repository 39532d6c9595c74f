/**
 * How the API server reaches a webhook's Service where it has no route of its own (the sandbox's
 * VPC, as EKS's control plane reaches pods through its interfaces in the VPC): a ready endpoint
 * of the Service's port, picked from its EndpointSlices (as kube-apiserver's endpoint routing
 * does), and a connection to it through the given network.
 */
import type { Duplex } from 'node:stream';
import type { ServiceResolver } from './admission-webhooks.js';
import type { KubeStore } from './storage/kube-store.js';

type Json = Record<string, unknown>;

export interface ServiceNetwork {
  /** A raw connection to `address:port` inside the cluster's network. */
  connect(address: string, port: number): Duplex;
}

interface SlicePort {
  readonly name?: string;
  readonly port?: number;
}

interface SliceEndpoint {
  readonly addresses?: string[];
  readonly conditions?: { ready?: boolean };
}

interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** The ready endpoints of a Service port (by its name, as EndpointSlices name their ports). */
export function readyEndpoints(
  store: KubeStore,
  namespace: string,
  service: string,
  portName: string,
): Endpoint[] {
  const found: Endpoint[] = [];
  for (const slice of store.list('discovery.k8s.io/endpointslices', namespace).items as Json[]) {
    const labels = ((slice.metadata as Json | undefined)?.labels ?? {}) as Record<string, string>;
    if (labels['kubernetes.io/service-name'] !== service) continue;
    const port = ((slice.ports ?? []) as SlicePort[]).find(
      (item) => (item.name ?? '') === portName,
    )?.port;
    if (port === undefined) continue;
    for (const endpoint of (slice.endpoints ?? []) as SliceEndpoint[]) {
      const address = endpoint.addresses?.[0];
      if (address && endpoint.conditions?.ready !== false) found.push({ address, port });
    }
  }
  return found;
}

export function endpointResolver(store: KubeStore, network: ServiceNetwork): ServiceResolver {
  return ({ namespace, name, port }) => {
    const spec = (store.get('/services', namespace, name)?.spec ?? {}) as Json;
    const servicePort = ((spec.ports ?? []) as { name?: string; port?: number }[]).find(
      (item) => item.port === port,
    );
    if (!servicePort) return undefined;
    const candidates = readyEndpoints(store, namespace, name, servicePort.name ?? '');
    const chosen = candidates[Math.floor(Math.random() * candidates.length)];
    if (!chosen) return undefined;
    return {
      url: `https://${name}.${namespace}.svc:${String(port)}`,
      serverName: `${name}.${namespace}.svc`,
      connect: () => network.connect(chosen.address, chosen.port),
    };
  };
}
