/**
 * The scheduler: every pending pod without a node (and `schedulerName` default-scheduler) is
 * filtered against the nodes as kube-scheduler's plugins filter (core/kube/scheduling.ts),
 * placed on the fitting node with the fewest pods, and bound through `pods/binding`. A pod that
 * fits nowhere gets `PodScheduled=False` (`Unschedulable`) and a `FailedScheduling` event with
 * the scheduler's wording, and is tried again whenever a node or a pod changes.
 */
import {
  isStatus,
  resourcePath,
  type KubeHttpClient,
  type KubeResource,
} from '../../../adapters/kube/kube-http-client.js';
import { objectKey } from '../../../adapters/kube/informer.js';
import { isActivePod } from './pod-facts.js';
import { schedule } from '../../../core/kube/scheduling.js';
import { withCondition, type Condition } from '../../../core/kube/workloads.js';
import type { ClusterInformers } from './cluster-informers.js';
import { schedulingNodeOf } from './daemonset-controller.js';
import type { EventRecorder } from './event-recorder.js';
import { WorkQueue } from '../../../adapters/kube/work-queue.js';

type Json = Record<string, unknown>;

function nodeNameOf(pod: KubeResource): string {
  const name = (pod.spec as Json | undefined)?.nodeName;
  return typeof name === 'string' ? name : '';
}

function wantsScheduling(pod: KubeResource): boolean {
  const spec = (pod.spec ?? {}) as Json;
  const scheduler = spec.schedulerName ?? 'default-scheduler';
  return !nodeNameOf(pod) && scheduler === 'default-scheduler' && isActivePod(pod);
}

export class Scheduler {
  readonly queue: WorkQueue;
  /** Pods bound by us that the informer does not show bound yet: pod key → node. */
  readonly #assumed = new Map<string, string>();
  readonly #unschedulable = new Set<string>();
  #rotation = 0;

  constructor(
    readonly client: KubeHttpClient,
    readonly informers: ClusterInformers,
    readonly events: EventRecorder,
    onError: (error: unknown) => void,
  ) {
    this.queue = new WorkQueue((key) => this.#scheduleOne(key), {
      concurrency: 1,
      onError,
    });
    informers.pods.onChange((event, pod) => {
      const key = objectKey(pod);
      if (nodeNameOf(pod) || event === 'deleted') this.#assumed.delete(key);
      if (event === 'deleted') this.#unschedulable.delete(key);
      if (wantsScheduling(pod) && event !== 'deleted') this.queue.add(key);
      // A pod leaving frees room: retry what did not fit.
      if (event === 'deleted' || !isActivePod(pod)) this.#retryUnschedulable();
    });
    informers.nodes.onChange(() => {
      this.#retryUnschedulable();
    });
  }

  #retryUnschedulable(): void {
    for (const key of this.#unschedulable) this.queue.add(key);
  }

  async #scheduleOne(key: string): Promise<void> {
    const pod = this.informers.pods.get(key);
    if (!pod || !wantsScheduling(pod) || this.#assumed.has(key)) return;
    const spec = (pod.spec ?? {}) as Json;
    const podsByNode = new Map<string, Json[]>();
    const add = (nodeName: string, podSpec: Json): void => {
      podsByNode.set(nodeName, [...(podsByNode.get(nodeName) ?? []), podSpec]);
    };
    for (const other of this.informers.pods.list()) {
      const nodeName = nodeNameOf(other);
      if (nodeName && isActivePod(other)) add(nodeName, (other.spec ?? {}) as Json);
    }
    for (const [assumedKey, nodeName] of this.#assumed) {
      const assumed = this.informers.pods.get(assumedKey);
      // Counted once: a pod whose binding the cache has already seen is counted above.
      if (assumed && !nodeNameOf(assumed)) add(nodeName, (assumed.spec ?? {}) as Json);
    }
    const nodes = this.informers.nodes
      .list()
      .map((node) => schedulingNodeOf(node, podsByNode.get(node.metadata.name ?? '') ?? []));
    const result = schedule(spec, nodes);
    if (!result.fits) {
      this.#unschedulable.add(key);
      await this.#reportUnschedulable(pod, result.message);
      return;
    }
    this.#unschedulable.delete(key);
    const fewest = Math.min(...result.nodes.map((name) => podsByNode.get(name)?.length ?? 0));
    const candidates = result.nodes.filter(
      (name) => (podsByNode.get(name)?.length ?? 0) === fewest,
    );
    const nodeName = candidates[this.#rotation++ % candidates.length] ?? '';
    await this.#bind(pod, nodeName);
  }

  async #bind(pod: KubeResource, nodeName: string): Promise<void> {
    const { namespace, name } = pod.metadata;
    try {
      await this.client.create(resourcePath('v1', 'pods', namespace, name, 'binding'), {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name, namespace, uid: pod.metadata.uid },
        target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
      });
    } catch (error) {
      if (isStatus(error, 'NotFound', 'Conflict')) return;
      throw error;
    }
    // The watch may have delivered the binding already; only a pod not seen bound is assumed.
    const key = objectKey(pod);
    const cached = this.informers.pods.get(key);
    if (cached && !nodeNameOf(cached)) this.#assumed.set(key, nodeName);
    this.events.record(
      { ...pod, apiVersion: 'v1', kind: 'Pod' },
      'Normal',
      'Scheduled',
      `Successfully assigned ${namespace ?? ''}/${name ?? ''} to ${nodeName}`,
    );
  }

  async #reportUnschedulable(pod: KubeResource, message: string): Promise<void> {
    const status = (pod.status ?? {}) as Json;
    const conditions = (status.conditions ?? []) as Condition[];
    const previous = conditions.find((condition) => condition.type === 'PodScheduled');
    if (previous?.status === 'False' && previous.message === message) return;
    const now = `${new Date().toISOString().slice(0, 19)}Z`;
    const next = withCondition(
      conditions,
      { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message },
      now,
      false,
    ).map((condition) => ({ lastProbeTime: null, ...condition }));
    try {
      await this.client.mergePatch(
        resourcePath('v1', 'pods', pod.metadata.namespace, pod.metadata.name, 'status'),
        { status: { phase: 'Pending', conditions: next } },
      );
    } catch (error) {
      if (isStatus(error, 'NotFound')) return;
      throw error;
    }
    this.events.record(
      { ...pod, apiVersion: 'v1', kind: 'Pod' },
      'Warning',
      'FailedScheduling',
      message,
    );
  }
}
