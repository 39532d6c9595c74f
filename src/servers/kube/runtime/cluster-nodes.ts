/**
 * The nodes a cluster runtime runs: per node a kubelet and a kube-proxy, added when a node
 * appears (at start for the standalone network, whenever an instance of a node group comes up
 * in the sandbox) and removed when it goes — then its pods are stopped, their objects and the
 * Node deleted, as the node lifecycle and pod GC controllers do when an instance is gone.
 */
import { join } from 'node:path';
import type { ImageCatalogue } from '../../../adapters/images/image-catalogue.js';
import {
  isStatus,
  resourcePath,
  type KubeHttpClient,
} from '../../../adapters/kube/kube-http-client.js';
import type { CniNode } from './cni/cni-runner.js';
import { clusterDnsIp, clusterDomain } from './cluster-addons.js';
import type { ClusterInformers } from './cluster-informers.js';
import { KubeProxy } from './kube-proxy.js';
import { Kubelet, type NodeDescription } from './kubelet/kubelet.js';

export interface NodeSpec {
  readonly description: NodeDescription;
  /** The node's network namespace. */
  readonly namespace: string;
  readonly cni: CniNode;
}

export interface ClusterNodesOptions {
  readonly home: string;
  readonly prefix: string;
  readonly client: KubeHttpClient;
  readonly catalogue: ImageCatalogue;
  readonly clusterCa: string;
  readonly informers: ClusterInformers;
  readonly onError: (error: unknown) => void;
}

interface RunningNode {
  readonly spec: NodeSpec;
  readonly kubelet: Kubelet;
  readonly proxy: KubeProxy;
}

export class ClusterNodes {
  readonly #nodes = new Map<string, RunningNode>();
  #proxiesLive = false;

  constructor(private readonly options: ClusterNodesOptions) {}

  names(): string[] {
    return [...this.#nodes.keys()];
  }

  has(name: string): boolean {
    return this.#nodes.has(name);
  }

  kubelets(): Kubelet[] {
    return [...this.#nodes.values()].map((node) => node.kubelet);
  }

  async add(spec: NodeSpec): Promise<void> {
    const { options } = this;
    const name = spec.description.name;
    if (this.#nodes.has(name)) return;
    const kubelet = new Kubelet({
      client: options.client,
      node: spec.description,
      cni: spec.cni,
      catalogue: options.catalogue,
      stateDirectory: join(options.home, 'kube', 'nodes', name),
      podLogDirectory: join(options.home, 'pod-logs'),
      prefix: options.prefix,
      clusterCa: options.clusterCa,
      dns: { nameserver: clusterDnsIp, domain: clusterDomain },
      onError: options.onError,
    });
    const proxy = new KubeProxy(spec.namespace, options.informers, options.onError);
    this.#nodes.set(name, { spec, kubelet, proxy });
    await kubelet.start();
    if (this.#proxiesLive) await proxy.sync();
  }

  /** Writes every proxy's rules once the informers have listed (and from then on at once). */
  async startProxies(): Promise<void> {
    this.#proxiesLive = true;
    await Promise.all([...this.#nodes.values()].map((node) => node.proxy.sync()));
  }

  /** The node is gone for good: its pods stop, and their objects and the Node are deleted. */
  async remove(name: string): Promise<void> {
    const node = this.#nodes.get(name);
    if (node) {
      this.#nodes.delete(name);
      node.proxy.close();
      await node.kubelet.shutdown(0);
    }
    const { client } = this.options;
    const selector = encodeURIComponent(`spec.nodeName=${name}`);
    const pods = await client.get<{ items?: { metadata: { name: string; namespace: string } }[] }>(
      `/api/v1/pods?fieldSelector=${selector}`,
    );
    for (const pod of pods.items ?? []) {
      await client
        .delete(resourcePath('v1', 'pods', pod.metadata.namespace, pod.metadata.name), {
          gracePeriodSeconds: 0,
        })
        .catch((error: unknown) => {
          if (!isStatus(error, 'NotFound')) throw error;
        });
    }
    await client.delete(resourcePath('v1', 'nodes', undefined, name)).catch((error: unknown) => {
      if (!isStatus(error, 'NotFound')) throw error;
    });
  }

  /** Stops the runtime's side; pods keep running for the next start to adopt. */
  async close(): Promise<void> {
    for (const node of this.#nodes.values()) node.proxy.close();
    await Promise.all([...this.#nodes.values()].map((node) => node.kubelet.close()));
  }
}
