/**
 * The endpoints controllers: for every Service with a selector, the Endpoints object (ready and
 * not-ready addresses, target ports resolved per pod) and EndpointSlices (`discovery.k8s.io/v1`,
 * one per set of ports, labelled with the Service's name, owned by it) of the pods it selects.
 */
import {
  isStatus,
  resourcePath,
  type KubeHttpClient,
  type KubeResource,
} from '../../../adapters/kube/kube-http-client.js';
import { objectKey } from '../../../adapters/kube/informer.js';
import { targetPortOn } from '../../../core/kube/services.js';
import type { ClusterInformers } from './cluster-informers.js';
import { isPodReady } from './pod-facts.js';
import { WorkQueue } from '../../../adapters/kube/work-queue.js';

type Json = Record<string, unknown>;

export const serviceNameLabel = 'kubernetes.io/service-name';
const managedByLabel = 'endpointslice.kubernetes.io/managed-by';
const managedBy = 'endpointslice-controller.k8s.io';

interface Backend {
  readonly pod: KubeResource;
  readonly ip: string;
  readonly ready: boolean;
  readonly terminating: boolean;
  readonly ports: { name: string; port: number; protocol: string }[];
}

function selects(
  selector: Record<string, string>,
  labels: Record<string, string> | undefined,
): boolean {
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

function targetRef(pod: KubeResource): Json {
  return {
    kind: 'Pod',
    namespace: pod.metadata.namespace,
    name: pod.metadata.name,
    uid: pod.metadata.uid,
  };
}

export class EndpointsController {
  readonly queue: WorkQueue;

  constructor(
    readonly client: KubeHttpClient,
    readonly informers: ClusterInformers,
    onError: (error: unknown) => void,
  ) {
    this.queue = new WorkQueue((key) => this.#sync(key), { onError });
    informers.services.onChange((_event, service) => {
      this.queue.add(objectKey(service));
    });
    informers.pods.onChange((_event, pod, previous) => {
      for (const service of informers.services.list()) {
        if (service.metadata.namespace !== pod.metadata.namespace) continue;
        const selector = (service.spec as Json | undefined)?.selector as
          Record<string, string> | undefined;
        if (!selector || Object.keys(selector).length === 0) continue;
        if (selects(selector, pod.metadata.labels) || selects(selector, previous?.metadata.labels))
          this.queue.add(objectKey(service));
      }
    });
  }

  #backends(service: KubeResource): Backend[] {
    const spec = (service.spec ?? {}) as Json;
    const selector = (spec.selector ?? {}) as Record<string, string>;
    const servicePorts = (spec.ports ?? []) as Json[];
    const backends: Backend[] = [];
    for (const pod of this.informers.pods.list()) {
      if (pod.metadata.namespace !== service.metadata.namespace) continue;
      if (!selects(selector, pod.metadata.labels)) continue;
      const status = (pod.status ?? {}) as Json;
      const phase = status.phase;
      const ip = typeof status.podIP === 'string' ? status.podIP : '';
      if (!ip || phase === 'Succeeded' || phase === 'Failed') continue;
      const podSpec = (pod.spec ?? {}) as Json;
      const ports = servicePorts.flatMap((servicePort) => {
        const port = targetPortOn(servicePort, podSpec);
        return port === undefined
          ? []
          : [
              {
                name: typeof servicePort.name === 'string' ? servicePort.name : '',
                port,
                protocol: typeof servicePort.protocol === 'string' ? servicePort.protocol : 'TCP',
              },
            ];
      });
      const terminating = Boolean(pod.metadata.deletionTimestamp);
      backends.push({ pod, ip, ready: isPodReady(pod) && !terminating, terminating, ports });
    }
    return backends.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  }

  async #sync(key: string): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    const service = this.informers.services.get(key);
    const spec = (service?.spec ?? {}) as Json;
    const selector = spec.selector as Record<string, string> | undefined;
    const managed =
      service && selector && Object.keys(selector).length > 0 && spec.type !== 'ExternalName';
    if (!service || !managed) {
      if (service?.metadata.name === 'kubernetes' && namespace === 'default') return;
      await this.#remove(namespace, name);
      return;
    }
    const backends = this.#backends(service);
    await this.#writeEndpoints(service, backends);
    await this.#writeSlices(service, backends);
  }

  async #remove(namespace: string, name: string): Promise<void> {
    await this.client
      .delete(resourcePath('v1', 'endpoints', namespace, name))
      .catch((error: unknown) => {
        if (!isStatus(error, 'NotFound')) throw error;
      });
    for (const slice of this.#slicesOf(namespace, name)) {
      await this.client
        .delete(
          resourcePath('discovery.k8s.io/v1', 'endpointslices', namespace, slice.metadata.name),
        )
        .catch(() => undefined);
    }
  }

  #slicesOf(namespace: string, service: string): KubeResource[] {
    return this.informers.endpointSlices
      .list()
      .filter(
        (slice) =>
          slice.metadata.namespace === namespace &&
          slice.metadata.labels?.[serviceNameLabel] === service &&
          slice.metadata.labels[managedByLabel] === managedBy,
      );
  }

  async #writeEndpoints(service: KubeResource, backends: Backend[]): Promise<void> {
    const groups = new Map<string, Backend[]>();
    for (const backend of backends) {
      if (backend.terminating || backend.ports.length === 0) continue;
      const portsKey = JSON.stringify(backend.ports);
      groups.set(portsKey, [...(groups.get(portsKey) ?? []), backend]);
    }
    const address = (backend: Backend): Json => ({
      ip: backend.ip,
      nodeName: (backend.pod.spec as Json | undefined)?.nodeName,
      targetRef: targetRef(backend.pod),
    });
    const subsets = [...groups.entries()].map(([portsKey, members]) => {
      const ready = members.filter((backend) => backend.ready).map(address);
      const notReady = members.filter((backend) => !backend.ready).map(address);
      return {
        ...(ready.length > 0 ? { addresses: ready } : {}),
        ...(notReady.length > 0 ? { notReadyAddresses: notReady } : {}),
        ports: JSON.parse(portsKey) as unknown,
      };
    });
    const { namespace, name } = service.metadata;
    const body = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace, labels: service.metadata.labels ?? {} },
      subsets,
    };
    await this.#put(
      resourcePath('v1', 'endpoints', namespace),
      resourcePath('v1', 'endpoints', namespace, name),
      body,
      (current) => JSON.stringify(current.subsets ?? []) === JSON.stringify(subsets),
    );
  }

  async #writeSlices(service: KubeResource, backends: Backend[]): Promise<void> {
    const { namespace = 'default', name = '' } = service.metadata;
    const groups = new Map<string, Backend[]>();
    for (const backend of backends) {
      const portsKey = JSON.stringify(backend.ports);
      groups.set(portsKey, [...(groups.get(portsKey) ?? []), backend]);
    }
    if (groups.size === 0) groups.set('[]', []);
    const existing = this.#slicesOf(namespace, name);
    const unused = new Set(existing.map((slice) => slice.metadata.name ?? ''));
    for (const [portsKey, members] of groups) {
      const ports = JSON.parse(portsKey) as unknown[];
      const slice = existing.find(
        (candidate) => JSON.stringify(candidate.ports ?? []) === portsKey,
      );
      const endpoints = members.map((backend) => ({
        addresses: [backend.ip],
        conditions: {
          ready: backend.ready,
          serving: !backend.terminating || isPodReady(backend.pod),
          terminating: backend.terminating,
        },
        nodeName: (backend.pod.spec as Json | undefined)?.nodeName,
        targetRef: targetRef(backend.pod),
      }));
      const body = {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          ...(slice ? { name: slice.metadata.name } : { generateName: `${name}-` }),
          namespace,
          labels: { [serviceNameLabel]: name, [managedByLabel]: managedBy },
          ownerReferences: [
            {
              apiVersion: 'v1',
              kind: 'Service',
              name,
              uid: service.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        addressType: 'IPv4',
        endpoints,
        ports,
      };
      if (slice) {
        unused.delete(slice.metadata.name ?? '');
        if (JSON.stringify(slice.endpoints ?? []) === JSON.stringify(endpoints)) continue;
        await this.client.replace(
          resourcePath('discovery.k8s.io/v1', 'endpointslices', namespace, slice.metadata.name),
          body,
        );
      } else {
        await this.client.create(
          resourcePath('discovery.k8s.io/v1', 'endpointslices', namespace),
          body,
        );
      }
    }
    for (const sliceName of unused) {
      await this.client
        .delete(resourcePath('discovery.k8s.io/v1', 'endpointslices', namespace, sliceName))
        .catch(() => undefined);
    }
  }

  /** Creates the object, or replaces it unless `same` says it already says this. */
  async #put(
    collection: string,
    path: string,
    body: KubeResource,
    same: (current: KubeResource) => boolean,
  ): Promise<void> {
    try {
      const current = await this.client.get(path);
      if (same(current)) return;
      await this.client.replace(path, body);
    } catch (error) {
      if (!isStatus(error, 'NotFound')) throw error;
      await this.client.create(collection, body);
    }
  }
}
