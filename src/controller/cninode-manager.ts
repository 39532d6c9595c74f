/**
 * A CNINode per Node (rc.md §1.2): named after the node, owned by it (ownerReference,
 * controller), labelled with its OS, with the finalizer `networking.k8s.aws/resource-cleanup`
 * and the tags `cluster.k8s.amazonaws.com/name` and `node.k8s.amazonaws.com/instance_id`
 * (from the providerID). Missing pieces are put back; a CNINode deleted while its Node exists
 * has its finalizer removed and is made again, as upstream does.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Node,
} from '@kubernetes/client-node';
import type { ControllerMetrics } from './controller-metrics.js';
import type { KubeJson } from './kube-objects.js';
import type { Logger } from './logger.js';

type Json = Record<string, unknown>;
type CniNode = KubeJson & { spec?: { features?: Json[]; tags?: Record<string, string> } };

export const cniNodeFinalizer = 'networking.k8s.aws/resource-cleanup';
const group = 'vpcresources.k8s.aws';
const version = 'v1alpha1';
const plural = 'cninodes';
const instanceIdPattern = /^i-([a-f0-9]{8}|[a-f0-9]{17})$/;

export function instanceIdOf(node: V1Node): string | undefined {
  const id = node.spec?.providerID?.split('/').pop() ?? '';
  return instanceIdPattern.test(id) ? id : undefined;
}

/** The CNINode a node should have (its features are aws-node's to write, never ours). */
export function desiredCniNode(node: V1Node, clusterName: string): CniNode {
  const name = node.metadata?.name ?? '';
  const instanceId = instanceIdOf(node);
  return {
    apiVersion: `${group}/${version}`,
    kind: 'CNINode',
    metadata: {
      name,
      labels: { 'kubernetes.io/os': node.metadata?.labels?.['kubernetes.io/os'] ?? 'linux' },
      finalizers: [cniNodeFinalizer],
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Node',
          name,
          uid: node.metadata?.uid ?? '',
          controller: true,
        },
      ],
    },
    spec: {
      tags: {
        'cluster.k8s.amazonaws.com/name': clusterName,
        ...(instanceId ? { 'node.k8s.amazonaws.com/instance_id': instanceId } : {}),
      },
    },
  };
}

/** True when the finalizer, a tag or the OS label is missing or wrong. */
export function needsRepair(cniNode: CniNode, desired: CniNode): boolean {
  const tags = cniNode.spec?.tags ?? {};
  const wantedTags = desired.spec?.tags ?? {};
  return (
    !(cniNode.metadata?.finalizers ?? []).includes(cniNodeFinalizer) ||
    Object.entries(wantedTags).some(([key, value]) => tags[key] !== value) ||
    cniNode.metadata?.labels?.['kubernetes.io/os'] !==
      desired.metadata?.labels?.['kubernetes.io/os']
  );
}

export class CniNodeManager {
  readonly #nodes;
  readonly #cniNodes;
  readonly #custom: CustomObjectsApi;
  #stopped = false;

  constructor(
    config: KubeConfig,
    private readonly clusterName: string,
    private readonly logger: Logger,
    private readonly metrics: ControllerMetrics,
    /** Called before a gone node's CNINode loses its finalizer (the leader's ENI cleanup). */
    private readonly onFinalise?: (instanceId: string) => Promise<unknown>,
  ) {
    const core = config.makeApiClient(CoreV1Api);
    this.#custom = config.makeApiClient(CustomObjectsApi);
    this.#nodes = makeInformer(config, '/api/v1/nodes', () => core.listNode());
    this.#cniNodes = makeInformer(
      config,
      `/apis/${group}/${version}/${plural}`,
      () =>
        this.#custom.listClusterCustomObject({ group, version, plural }) as Promise<
          KubernetesListObject<KubernetesObject>
        >,
    );
  }

  async start(): Promise<void> {
    for (const informer of [this.#nodes, this.#cniNodes] as {
      on: (e: string, f: (o: KubernetesObject) => void) => void;
    }[]) {
      for (const event of ['add', 'update', 'delete'])
        informer.on(event, (object) => {
          this.#reconcileSoon(object.metadata?.name ?? '');
        });
    }
    for (const informer of [this.#nodes, this.#cniNodes]) {
      informer.on('error', (error: unknown) => {
        if (this.#stopped) return;
        this.logger.warn({ err: error }, 'cninode manager: watch failed; resuming');
        setTimeout(() => {
          if (!this.#stopped) informer.start().catch(() => undefined);
        }, 1000);
      });
    }
    await Promise.all([this.#nodes.start(), this.#cniNodes.start()]);
    for (const node of this.#nodes.list()) this.#reconcileSoon(node.metadata?.name ?? '');
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([this.#nodes.stop(), this.#cniNodes.stop()]);
  }

  readonly #pending = new Set<string>();

  #reconcileSoon(name: string): void {
    if (this.#stopped || this.#pending.has(name)) return;
    this.#pending.add(name);
    setTimeout(() => {
      this.#pending.delete(name);
      this.#reconcile(name).catch((error: unknown) => {
        this.logger.warn({ node: name, err: error }, 'cninode: reconcile failed; retrying');
        setTimeout(() => {
          this.#reconcileSoon(name);
        }, 1000);
      });
    }, 50);
  }

  async #reconcile(name: string): Promise<void> {
    const node = this.#nodes.get(name);
    const cniNode = await this.#custom
      .getClusterCustomObject({ group, version, plural, name })
      .then((object) => JSON.parse(JSON.stringify(object)) as CniNode)
      .catch((error: unknown) => {
        if ((error as { code?: number }).code === 404) return undefined;
        throw error;
      });
    if (!node) {
      // The node is gone: the ENIs left available for its instance go before the object does.
      if (!cniNode?.metadata?.deletionTimestamp) return;
      const instanceId = cniNode.spec?.tags?.['node.k8s.amazonaws.com/instance_id'];
      if (instanceId && this.onFinalise) await this.onFinalise(instanceId);
      await this.#dropFinalizer(cniNode);
      return;
    }
    const desired = desiredCniNode(node, this.clusterName);
    if (cniNode?.metadata?.deletionTimestamp) {
      await this.#dropFinalizer(cniNode);
      this.metrics.recreateCniNodeCalls.inc();
      return; // its deletion event brings us back here to make it again
    }
    if (!cniNode) {
      await this.#custom
        .createClusterCustomObject({ group, version, plural, body: desired })
        .catch((error: unknown) => {
          if ((error as { code?: number }).code !== 409) throw error;
        });
      this.metrics.cniNodeOperations.inc({ operation: 'create' });
      this.logger.info({ node: name }, 'cninode created');
      return;
    }
    await this.#repair(cniNode, desired);
  }

  async #repair(cniNode: CniNode, desired: CniNode): Promise<void> {
    if (!needsRepair(cniNode, desired)) return;
    const finalizers = cniNode.metadata?.finalizers ?? [];
    const tags = cniNode.spec?.tags ?? {};
    const wantedTags = desired.spec?.tags ?? {};
    const os = desired.metadata?.labels?.['kubernetes.io/os'];
    await this.#mergePatch(cniNode, {
      metadata: {
        resourceVersion: cniNode.metadata?.resourceVersion,
        labels: { 'kubernetes.io/os': os },
        finalizers: [...new Set([...finalizers, cniNodeFinalizer])],
      },
      spec: { tags: { ...tags, ...wantedTags } },
    });
    this.metrics.cniNodeOperations.inc({ operation: 'repair' });
  }

  async #dropFinalizer(cniNode: CniNode): Promise<void> {
    await this.#mergePatch(cniNode, {
      metadata: {
        finalizers: (cniNode.metadata?.finalizers ?? []).filter(
          (item) => item !== cniNodeFinalizer,
        ),
      },
    });
  }

  async #mergePatch(cniNode: CniNode, body: Json): Promise<void> {
    await this.#custom.patchClusterCustomObject(
      { group, version, plural, name: cniNode.metadata?.name ?? '', body },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
}
