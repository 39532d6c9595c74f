/**
 * The DaemonSet controller: one pod per node the template may run on (nodeSelector, node
 * affinity, taints — with the tolerations DaemonSet pods always get), pinned to its node by a
 * `metadata.name` node-affinity term and bound by the scheduler, as since Kubernetes 1.12.
 * A template change rolls node by node (`RollingUpdate`, maxUnavailable default 1), or waits
 * for pods to be deleted (`OnDelete`). Status counters as `kubectl rollout status ds` reads them.
 */
import {
  resourcePath,
  type KubeHttpClient,
  type KubeResource,
} from '../../../adapters/kube/kube-http-client.js';
import { objectKey } from '../../../adapters/kube/informer.js';
import { controllerOf, isPodReady, podAvailability } from './pod-facts.js';
import { placementReasons, type SchedulingNode } from '../../../core/kube/scheduling.js';
import { scaledValue, templateHash } from '../../../core/kube/workloads.js';
import type { ClusterInformers } from './cluster-informers.js';
import type { EventRecorder } from './event-recorder.js';
import { OwnedPods } from './owned-pods.js';
import { podFromTemplate } from './replicaset-controller.js';
import { WorkQueue } from '../../../adapters/kube/work-queue.js';

type Json = Record<string, unknown>;

const revisionLabel = 'controller-revision-hash';

/** What the DaemonSet controller adds to every pod's tolerations. */
const daemonTolerations = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

export function schedulingNodeOf(
  node: KubeResource,
  podSpecs: readonly Json[] = [],
): SchedulingNode {
  const spec = (node.spec ?? {}) as Json;
  const status = (node.status ?? {}) as Json;
  return {
    name: node.metadata.name ?? '',
    labels: node.metadata.labels ?? {},
    taints: (spec.taints ?? []) as Json[],
    unschedulable: spec.unschedulable === true,
    allocatable: (status.allocatable ?? {}) as Record<string, string>,
    podSpecs,
  };
}

function daemonPodSpec(templateSpec: Json, nodeName: string): Json {
  const tolerations = [...((templateSpec.tolerations ?? []) as Json[])];
  for (const toleration of daemonTolerations) {
    if (!tolerations.some((existing) => existing.key === toleration.key))
      tolerations.push(toleration);
  }
  const affinity = (templateSpec.affinity ?? {}) as Json;
  return {
    ...templateSpec,
    tolerations,
    affinity: {
      ...affinity,
      nodeAffinity: {
        ...((affinity.nodeAffinity ?? {}) as Json),
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }],
            },
          ],
        },
      },
    },
  };
}

interface DaemonView {
  readonly set: KubeResource;
  readonly spec: Json;
  readonly template: Json;
  readonly templateSpec: Json;
  readonly hash: string;
  readonly pods: KubeResource[];
  readonly wanted: KubeResource[];
  readonly wantedNames: ReadonlySet<string>;
  readonly podsByNode: ReadonlyMap<string, KubeResource[]>;
  readonly isAvailable: (pod: KubeResource) => boolean;
}

export class DaemonSetController {
  readonly queue: WorkQueue;
  readonly #owned = new OwnedPods();

  constructor(
    readonly client: KubeHttpClient,
    readonly informers: ClusterInformers,
    readonly events: EventRecorder,
    onError: (error: unknown) => void,
  ) {
    this.queue = new WorkQueue((key) => this.#sync(key), { onError });
    informers.daemonSets.onChange((_event, object) => {
      this.queue.add(objectKey(object));
    });
    informers.nodes.onChange(() => {
      for (const set of informers.daemonSets.list()) this.queue.add(objectKey(set));
    });
    informers.pods.onChange((_event, pod) => {
      const owner = controllerOf(pod);
      if (owner?.kind === 'DaemonSet')
        this.queue.add(`${pod.metadata.namespace ?? ''}/${owner.name}`);
    });
  }

  async #sync(key: string): Promise<void> {
    const set = this.informers.daemonSets.get(key);
    if (!set || set.metadata.deletionTimestamp) return;
    const view = this.#view(set);
    // Pods on nodes that no longer want one, and duplicates: delete.
    const surplus: KubeResource[] = [];
    for (const [nodeName, nodePods] of view.podsByNode) {
      if (!view.wantedNames.has(nodeName)) surplus.push(...nodePods);
      else surplus.push(...nodePods.slice(1));
    }
    surplus.push(...this.#rollingVictims(view));
    const missing = view.wanted.filter((node) => !view.podsByNode.has(node.metadata.name ?? ''));
    await Promise.all([
      ...missing.map((node) => this.#createPod(view, node)),
      ...surplus.map((pod) => this.#deletePod(set, pod)),
    ]);
    await this.#updateStatus(view);
  }

  #view(set: KubeResource): DaemonView {
    const spec = (set.spec ?? {}) as Json;
    const template = (spec.template ?? {}) as Json;
    const templateSpec = (template.spec ?? {}) as Json;
    const namespace = set.metadata.namespace ?? 'default';
    const { pods } = this.#owned.active(
      set.metadata.uid ?? '',
      this.informers.pods.list().filter((pod) => pod.metadata.namespace === namespace),
    );
    const wanted = this.informers.nodes
      .list()
      .filter(
        (node) =>
          placementReasons(
            daemonPodSpec(templateSpec, node.metadata.name ?? ''),
            schedulingNodeOf(node),
          ).length === 0,
      );
    const podsByNode = new Map<string, KubeResource[]>();
    for (const pod of pods) {
      const nodeName = this.#nodeOf(pod);
      podsByNode.set(nodeName, [...(podsByNode.get(nodeName) ?? []), pod]);
    }
    const minReadySeconds = typeof spec.minReadySeconds === 'number' ? spec.minReadySeconds : 0;
    const now = Date.now();
    return {
      set,
      spec,
      template,
      templateSpec,
      hash: templateHash(template),
      pods,
      wanted,
      wantedNames: new Set(wanted.map((node) => node.metadata.name ?? '')),
      podsByNode,
      isAvailable: (pod) => podAvailability(pod, minReadySeconds, now).available,
    };
  }

  /** Rolling update: old pods, unavailable ones first, within maxUnavailable. */
  #rollingVictims(view: DaemonView): KubeResource[] {
    const strategy = (view.spec.updateStrategy ?? {}) as Json;
    if (strategy.type === 'OnDelete') return [];
    const rolling = (strategy.rollingUpdate ?? {}) as Json;
    const maxUnavailable = Math.max(
      1,
      scaledValue(rolling.maxUnavailable ?? 1, view.wanted.length, true),
    );
    const current = view.wanted.map((node) => view.podsByNode.get(node.metadata.name ?? '')?.[0]);
    let unavailable = current.filter((pod) => !pod || !view.isAvailable(pod)).length;
    const old = current.filter(
      (pod): pod is KubeResource =>
        pod !== undefined && pod.metadata.labels?.[revisionLabel] !== view.hash,
    );
    const victims = old.filter((candidate) => !view.isAvailable(candidate));
    for (const pod of old.filter(view.isAvailable)) {
      if (unavailable >= maxUnavailable) break;
      victims.push(pod);
      unavailable += 1;
    }
    return victims;
  }

  #nodeOf(pod: KubeResource): string {
    const spec = (pod.spec ?? {}) as Json;
    if (typeof spec.nodeName === 'string' && spec.nodeName) return spec.nodeName;
    const terms = ((
      ((spec.affinity as Json | undefined)?.nodeAffinity as Json | undefined)
        ?.requiredDuringSchedulingIgnoredDuringExecution as Json | undefined
    )?.nodeSelectorTerms ?? []) as Json[];
    const field = ((terms[0]?.matchFields ?? []) as Json[])[0];
    return ((field?.values ?? []) as string[])[0] ?? '';
  }

  async #createPod(view: DaemonView, node: KubeResource): Promise<void> {
    const { set, template, templateSpec, hash } = view;
    const owner = { ...set, apiVersion: 'apps/v1', kind: 'DaemonSet' };
    const pod = podFromTemplate(owner, template, {
      generateName: `${set.metadata.name ?? ''}-`,
      labels: {
        [revisionLabel]: hash,
        'pod-template-generation': String(set.metadata.generation ?? 1),
      },
      spec: daemonPodSpec(templateSpec, node.metadata.name ?? ''),
    });
    const created = await this.client.create(
      resourcePath('v1', 'pods', set.metadata.namespace),
      pod,
    );
    this.#owned.created(set.metadata.uid ?? '', created.metadata.name ?? '');
    this.events.record(
      owner,
      'Normal',
      'SuccessfulCreate',
      `Created pod: ${created.metadata.name ?? ''}`,
    );
  }

  async #deletePod(set: KubeResource, pod: KubeResource): Promise<void> {
    this.#owned.deleted(set.metadata.uid ?? '', pod.metadata.name ?? '');
    await this.client
      .delete(resourcePath('v1', 'pods', pod.metadata.namespace, pod.metadata.name), {
        preconditions: { uid: pod.metadata.uid },
      })
      .catch(() => undefined);
    this.events.record(
      { ...set, apiVersion: 'apps/v1', kind: 'DaemonSet' },
      'Normal',
      'SuccessfulDelete',
      `Deleted pod: ${pod.metadata.name ?? ''}`,
    );
  }

  async #updateStatus(view: DaemonView): Promise<void> {
    const { set, wanted, pods, hash, isAvailable, podsByNode } = view;
    const wantedNames = new Set(wanted.map((node) => node.metadata.name ?? ''));
    const scheduled = [...podsByNode.keys()];
    const onWanted = pods.filter((pod) => wantedNames.has(this.#nodeOf(pod)));
    const available = onWanted.filter(isAvailable).length;
    const status: Json = {
      desiredNumberScheduled: wanted.length,
      currentNumberScheduled: scheduled.filter((name) => wantedNames.has(name)).length,
      numberMisscheduled: scheduled.filter((name) => !wantedNames.has(name)).length,
      numberReady: onWanted.filter(isPodReady).length,
      updatedNumberScheduled: onWanted.filter(
        (pod) => pod.metadata.labels?.[revisionLabel] === hash,
      ).length,
      numberAvailable: available,
      numberUnavailable: Math.max(0, wanted.length - available),
      observedGeneration: set.metadata.generation ?? 1,
    };
    const current = (set.status ?? {}) as Json;
    if (Object.entries(status).every(([field, value]) => (current[field] ?? 0) === value)) return;
    await this.client.mergePatch(
      resourcePath('apps/v1', 'daemonsets', set.metadata.namespace, set.metadata.name, 'status'),
      { status },
    );
  }
}
