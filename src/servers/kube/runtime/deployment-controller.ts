/**
 * The Deployment controller: one ReplicaSet per pod template (named `<deployment>-<hash>`, the
 * hash also a pod label), rolled with `RollingUpdate` (maxSurge / maxUnavailable) or `Recreate`,
 * old ReplicaSets pruned beyond `revisionHistoryLimit`; status, `observedGeneration` and the
 * Available / Progressing conditions that `kubectl rollout status` waits on.
 */
import {
  resourcePath,
  type KubeHttpClient,
  type KubeResource,
} from '../../../adapters/kube/kube-http-client.js';
import { objectKey } from '../../../adapters/kube/informer.js';
import { controllerOf } from './pod-facts.js';
import {
  deploymentConditions,
  newReplicaSetSize,
  oldReplicaSetSizes,
  rollingLimits,
  templateHash,
  withCondition,
  type Condition,
  type ReplicaSetCounts,
} from '../../../core/kube/workloads.js';
import type { ClusterInformers } from './cluster-informers.js';
import type { EventRecorder } from './event-recorder.js';
import { WorkQueue } from '../../../adapters/kube/work-queue.js';

type Json = Record<string, unknown>;

const revisionAnnotation = 'deployment.kubernetes.io/revision';

function numberAt(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

function countsOf(set: KubeResource): ReplicaSetCounts {
  const status = (set.status ?? {}) as Json;
  return {
    name: set.metadata.name ?? '',
    replicas: numberAt((set.spec as Json | undefined)?.replicas, 0),
    available: numberAt(status.availableReplicas, 0),
  };
}

function revisionOf(set: KubeResource): number {
  return Number(set.metadata.annotations?.[revisionAnnotation] ?? 0) || 0;
}

function stamp(): string {
  return `${new Date().toISOString().slice(0, 19)}Z`;
}

export class DeploymentController {
  readonly queue: WorkQueue;

  constructor(
    readonly client: KubeHttpClient,
    readonly informers: ClusterInformers,
    readonly events: EventRecorder,
    onError: (error: unknown) => void,
  ) {
    this.queue = new WorkQueue((key) => this.#sync(key), { onError });
    informers.deployments.onChange((_event, object) => {
      this.queue.add(objectKey(object));
    });
    informers.replicaSets.onChange((_event, set) => {
      const owner = controllerOf(set);
      if (owner?.kind === 'Deployment')
        this.queue.add(`${set.metadata.namespace ?? ''}/${owner.name}`);
    });
  }

  #ownedSets(deployment: KubeResource): KubeResource[] {
    return this.informers.replicaSets
      .list()
      .filter(
        (set) =>
          set.metadata.namespace === deployment.metadata.namespace &&
          controllerOf(set)?.uid === deployment.metadata.uid,
      )
      .sort((a, b) => revisionOf(a) - revisionOf(b));
  }

  async #sync(key: string): Promise<void> {
    const deployment = this.informers.deployments.get(key);
    if (!deployment || deployment.metadata.deletionTimestamp) return;
    const spec = (deployment.spec ?? {}) as Json;
    const desired = numberAt(spec.replicas, 1);
    const template = (spec.template ?? {}) as Json;
    const hash = templateHash(template);
    const sets = this.#ownedSets(deployment);
    let newSet = sets.find((set) => set.metadata.labels?.['pod-template-hash'] === hash);
    const oldSets = sets.filter((set) => set !== newSet);
    const strategy = (spec.strategy ?? {}) as Json;
    const limits = rollingLimits(strategy, desired);
    let createdNewSet = false;
    if (!spec.paused) {
      if (!newSet) {
        newSet = await this.#createNewSet(deployment, hash, sets);
        createdNewSet = true;
      } else if (strategy.type === 'Recreate') {
        await this.#recreate(deployment, newSet, oldSets, desired);
      } else {
        await this.#roll(deployment, newSet, oldSets, desired, limits);
      }
      await this.#prune(spec, oldSets);
    }
    if (!newSet) return;
    await this.#updateStatus(deployment, { newSet, sets, createdNewSet });
  }

  async #createNewSet(
    deployment: KubeResource,
    hash: string,
    sets: KubeResource[],
  ): Promise<KubeResource> {
    const spec = (deployment.spec ?? {}) as Json;
    const strategy = (spec.strategy ?? {}) as Json;
    const desired = numberAt(spec.replicas, 1);
    const limits = rollingLimits(strategy, desired);
    const template = (spec.template ?? {}) as Json;
    const templateMetadata = (template.metadata ?? {}) as Json;
    const selector = (spec.selector ?? {}) as Json;
    const name = `${deployment.metadata.name ?? ''}-${hash}`;
    const revision = Math.max(0, ...sets.map(revisionOf)) + 1;
    const oldPods = sets.reduce((sum, set) => sum + countsOf(set).replicas, 0);
    const replicas =
      strategy.type === 'Recreate'
        ? oldPods > 0
          ? 0
          : desired
        : newReplicaSetSize(
            desired,
            limits,
            { name, replicas: 0, available: 0 },
            sets.map(countsOf),
          );
    const labels = {
      ...((templateMetadata.labels ?? {}) as Record<string, string>),
      'pod-template-hash': hash,
    };
    const body = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace: deployment.metadata.namespace,
        labels,
        annotations: {
          [revisionAnnotation]: String(revision),
          'deployment.kubernetes.io/desired-replicas': String(desired),
          'deployment.kubernetes.io/max-replicas': String(desired + limits.maxSurge),
        },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: deployment.metadata.name ?? '',
            uid: deployment.metadata.uid ?? '',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        replicas,
        minReadySeconds: numberAt(spec.minReadySeconds, 0),
        selector: {
          ...selector,
          matchLabels: {
            ...((selector.matchLabels ?? {}) as Record<string, string>),
            'pod-template-hash': hash,
          },
        },
        template: { ...template, metadata: { ...templateMetadata, labels } },
      },
    };
    const created = await this.client.create(
      resourcePath('apps/v1', 'replicasets', deployment.metadata.namespace),
      body,
    );
    if (replicas > 0) this.#scaledEvent(deployment, name, 0, replicas);
    return created;
  }

  #scaledEvent(deployment: KubeResource, setName: string, from: number, to: number): void {
    this.events.record(
      { ...deployment, apiVersion: 'apps/v1', kind: 'Deployment' },
      'Normal',
      'ScalingReplicaSet',
      `Scaled ${to > from ? 'up' : 'down'} replica set ${setName} from ${from} to ${to}`,
    );
  }

  async #scale(deployment: KubeResource, set: KubeResource, replicas: number): Promise<void> {
    const current = countsOf(set).replicas;
    if (current === replicas) return;
    const spec = (deployment.spec ?? {}) as Json;
    const desired = numberAt(spec.replicas, 1);
    const limits = rollingLimits((spec.strategy ?? {}) as Json, desired);
    await this.client.mergePatch(
      resourcePath('apps/v1', 'replicasets', set.metadata.namespace, set.metadata.name),
      {
        metadata: {
          annotations: {
            'deployment.kubernetes.io/desired-replicas': String(desired),
            'deployment.kubernetes.io/max-replicas': String(desired + limits.maxSurge),
          },
        },
        spec: { replicas },
      },
    );
    this.#scaledEvent(deployment, set.metadata.name ?? '', current, replicas);
  }

  async #roll(
    deployment: KubeResource,
    newSet: KubeResource,
    oldSets: KubeResource[],
    desired: number,
    limits: ReturnType<typeof rollingLimits>,
  ): Promise<void> {
    const all = [newSet, ...oldSets].map(countsOf);
    const newCounts = countsOf(newSet);
    const target = newReplicaSetSize(desired, limits, newCounts, all);
    if (target !== newCounts.replicas) await this.#scale(deployment, newSet, target);
    const sizes = oldReplicaSetSizes(
      desired,
      limits,
      { ...newCounts, replicas: target },
      oldSets.map(countsOf),
    );
    for (const set of oldSets) {
      const size = sizes.get(set.metadata.name ?? '');
      if (size !== undefined) await this.#scale(deployment, set, size);
    }
  }

  async #recreate(
    deployment: KubeResource,
    newSet: KubeResource,
    oldSets: KubeResource[],
    desired: number,
  ): Promise<void> {
    for (const set of oldSets) await this.#scale(deployment, set, 0);
    const oldPods = this.informers.pods
      .list()
      .some((pod) => oldSets.some((set) => controllerOf(pod)?.uid === set.metadata.uid));
    if (!oldPods) await this.#scale(deployment, newSet, desired);
  }

  async #prune(spec: Json, oldSets: KubeResource[]): Promise<void> {
    const limit = numberAt(spec.revisionHistoryLimit, 10);
    const empty = oldSets.filter(
      (set) =>
        countsOf(set).replicas === 0 &&
        numberAt((set.status as Json | undefined)?.replicas, 0) === 0,
    );
    for (const set of empty.slice(0, Math.max(0, empty.length - limit))) {
      await this.client
        .delete(resourcePath('apps/v1', 'replicasets', set.metadata.namespace, set.metadata.name))
        .catch(() => undefined);
    }
  }

  async #updateStatus(
    deployment: KubeResource,
    rollout: {
      readonly newSet: KubeResource;
      readonly sets: KubeResource[];
      readonly createdNewSet: boolean;
    },
  ): Promise<void> {
    const { newSet, sets, createdNewSet } = rollout;
    const spec = (deployment.spec ?? {}) as Json;
    const desired = numberAt(spec.replicas, 1);
    const { maxUnavailable } = rollingLimits((spec.strategy ?? {}) as Json, desired);
    const all = sets.includes(newSet) ? sets : [...sets, newSet];
    const sum = (field: string): number =>
      all.reduce((total, set) => total + numberAt((set.status as Json | undefined)?.[field], 0), 0);
    const specTotal = all.reduce((total, set) => total + countsOf(set).replicas, 0);
    const available = sum('availableReplicas');
    const updated = numberAt((newSet.status as Json | undefined)?.replicas, 0);
    const total = sum('replicas');
    const current = (deployment.status ?? {}) as Json;
    const now = stamp();
    let conditions = (current.conditions ?? []) as Condition[];
    for (const condition of deploymentConditions({
      name: deployment.metadata.name ?? '',
      newSetName: newSet.metadata.name,
      desired,
      available,
      updated,
      total,
      maxUnavailable,
      createdNewSet,
    })) {
      conditions = withCondition(conditions, condition, now);
    }
    const status: Json = {
      observedGeneration: deployment.metadata.generation ?? 1,
      replicas: total,
      updatedReplicas: updated,
      readyReplicas: sum('readyReplicas'),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, specTotal - available),
      conditions,
    };
    const changed = Object.entries(status).some(
      ([field, value]) => JSON.stringify(current[field] ?? 0) !== JSON.stringify(value),
    );
    if (!changed) return;
    await this.client.mergePatch(
      resourcePath(
        'apps/v1',
        'deployments',
        deployment.metadata.namespace,
        deployment.metadata.name,
        'status',
      ),
      { status },
    );
  }
}
