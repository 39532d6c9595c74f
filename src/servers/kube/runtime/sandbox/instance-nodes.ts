/**
 * The sandbox's nodes are the cluster's EC2 instances: this follower polls the cloud's
 * DescribeInstances for instances tagged with the cluster name and a node group, runs a node
 * (kubelet + kube-proxy) in each running instance's namespace — named, labelled and sized as
 * EKS does (`core/eks/node-identity.ts`) — and removes the node once its instance is gone.
 * The node's CNI directories start empty: the network add-on (aws-node) fills them.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { nodeIdentity } from '../../../../core/eks/node-identity.js';
import { instanceNamespaceName } from '../../../../core/kernel-names.js';
import type { KubeHttpClient } from '../../../../adapters/kube/kube-http-client.js';
import type { ClusterNodes, NodeSpec } from '../cluster-nodes.js';
import { nodeInstances, type NodeInstance } from './node-groups.js';

export interface InstanceNodesOptions {
  readonly home: string;
  readonly prefix: string;
  readonly region: string;
  readonly clusterName: string;
  readonly ec2: EC2Client;
  readonly nodes: ClusterNodes;
  /** For the Node objects left from before a restart. */
  readonly client: KubeHttpClient;
  readonly pollMs?: number;
  readonly onError: (error: unknown) => void;
}

export function nodeSpecOf(
  instance: NodeInstance,
  options: Pick<InstanceNodesOptions, 'home' | 'prefix' | 'region' | 'clusterName'>,
): NodeSpec {
  const identity = nodeIdentity({
    instanceId: instance.instanceId,
    instanceType: instance.instanceType,
    privateIp: instance.privateIp,
    availabilityZone: instance.availabilityZone,
    region: options.region,
    nodeGroup: instance.nodeGroup,
    managed: instance.managed,
    imageId: instance.imageId,
    extraLabels: instance.labels,
    clusterName: options.clusterName,
  });
  const base = join(options.home, 'kube', 'nodes', identity.name, 'cni');
  const confDir = join(base, 'net.d');
  const binDir = join(base, 'bin');
  mkdirSync(confDir, { recursive: true });
  mkdirSync(binDir, { recursive: true });
  const namespace = instanceNamespaceName(options.prefix, instance.instanceId);
  return {
    namespace,
    cni: { namespace, confDir, binDir },
    description: {
      name: identity.name,
      internalIp: instance.privateIp,
      labels: identity.labels,
      capacity: {
        ...identity.capacity,
        'ephemeral-storage': '20959212Ki',
        'hugepages-1Gi': '0',
        'hugepages-2Mi': '0',
      },
      providerId: identity.providerId,
      taints: instance.taints,
    },
  };
}

export class InstanceNodes {
  #timer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;
  #closed = false;
  /** Node name → instance id, of the nodes this follower added. */
  readonly #instances = new Map<string, string>();

  constructor(private readonly options: InstanceNodesOptions) {}

  /** One pass now (the first start waits for it), then a pass every poll interval. */
  async start(): Promise<void> {
    await this.sync();
    this.#timer = setInterval(() => {
      this.sync().catch(this.options.onError);
    }, this.options.pollMs ?? 1000);
  }

  /** Brings the nodes in line with the running instances (concurrent calls share a pass). */
  sync(): Promise<void> {
    this.#syncing ??= this.#pass().finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  async #pass(): Promise<void> {
    if (this.#closed) return;
    const { nodes } = this.options;
    const instances = await nodeInstances(this.options.ec2, this.options.clusterName);
    const running = instances.filter((instance) => instance.state === 'running');
    const wanted = new Map(
      running.map((instance) => [nodeSpecOf(instance, this.options), instance]),
    );
    const names = new Set([...wanted.keys()].map((spec) => spec.description.name));
    for (const name of await this.#knownNodes()) {
      if (names.has(name)) continue;
      await nodes.remove(name);
      this.#instances.delete(name);
    }
    await Promise.all(
      [...wanted].map(async ([spec, instance]) => {
        if (nodes.has(spec.description.name) || this.#closed) return;
        this.#instances.set(spec.description.name, instance.instanceId);
        await nodes.add(spec);
      }),
    );
  }

  /**
   * Nodes of node groups: the ones this follower runs, and on its first pass also those the API
   * still lists from before a restart (their instance may have gone meanwhile).
   */
  async #knownNodes(): Promise<string[]> {
    if (this.#listedApiNodes) return [...this.#instances.keys()];
    const { items = [] } = await this.options.client.get<{
      items?: { metadata: { name: string; labels?: Record<string, string> } }[];
    }>('/api/v1/nodes');
    this.#listedApiNodes = true;
    const grouped = items
      .filter((node) => {
        const labels = node.metadata.labels ?? {};
        return (
          'eks.amazonaws.com/nodegroup' in labels || 'alpha.eksctl.io/nodegroup-name' in labels
        );
      })
      .map((node) => node.metadata.name);
    return [...new Set([...this.#instances.keys(), ...grouped])];
  }

  #listedApiNodes = false;

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#syncing?.catch(() => undefined);
  }
}
