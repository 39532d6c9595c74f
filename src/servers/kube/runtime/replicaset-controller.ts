/**
 * The ReplicaSet controller: keeps `spec.replicas` active pods made from the template, owned by
 * the ReplicaSet; gives up the least useful pods first when it shrinks; reports replicas, ready
 * and available counts and `observedGeneration`. Events as kube-controller-manager words them.
 */
import {
  resourcePath,
  type KubeHttpClient,
  type KubeResource,
} from '../../../adapters/kube/kube-http-client.js';
import { objectKey } from '../../../adapters/kube/informer.js';
import { compareForDeletion, controllerOf, isPodReady, podAvailability } from './pod-facts.js';
import type { ClusterInformers } from './cluster-informers.js';
import type { EventRecorder } from './event-recorder.js';
import { OwnedPods } from './owned-pods.js';
import { WorkQueue } from '../../../adapters/kube/work-queue.js';

type Json = Record<string, unknown>;

/** At most this many pod creations or deletions at once per ReplicaSet (the controller's burst). */
const burst = 100;

export function podFromTemplate(
  owner: KubeResource,
  template: Json,
  extra: { labels?: Record<string, string>; spec?: Json; generateName: string },
): KubeResource {
  const metadata = (template.metadata ?? {}) as Json;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: extra.generateName,
      namespace: owner.metadata.namespace ?? 'default',
      labels: { ...((metadata.labels ?? {}) as Record<string, string>), ...extra.labels },
      ...(metadata.annotations
        ? { annotations: metadata.annotations as Record<string, string> }
        : {}),
      ownerReferences: [
        {
          apiVersion: owner.apiVersion ?? 'apps/v1',
          kind: owner.kind ?? 'ReplicaSet',
          name: owner.metadata.name ?? '',
          uid: owner.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { ...((template.spec ?? {}) as Json), ...extra.spec },
  };
}

export class ReplicaSetController {
  readonly queue: WorkQueue;
  readonly #owned = new OwnedPods();

  constructor(
    readonly client: KubeHttpClient,
    readonly informers: ClusterInformers,
    readonly events: EventRecorder,
    onError: (error: unknown) => void,
  ) {
    this.queue = new WorkQueue((key) => this.#sync(key), { onError });
    informers.replicaSets.onChange((_event, object) => {
      this.queue.add(objectKey(object));
    });
    informers.pods.onChange((_event, pod, previous) => {
      for (const candidate of [pod, previous]) {
        const owner = candidate ? controllerOf(candidate) : undefined;
        if (owner?.kind === 'ReplicaSet') {
          this.queue.add(`${pod.metadata.namespace ?? ''}/${owner.name}`);
        }
      }
    });
  }

  async #sync(key: string): Promise<void> {
    const set = this.informers.replicaSets.get(key);
    if (!set) return;
    const uid = set.metadata.uid ?? '';
    const spec = (set.spec ?? {}) as Json;
    const desired = typeof spec.replicas === 'number' ? spec.replicas : 1;
    const namespace = set.metadata.namespace ?? 'default';
    const inNamespace = this.informers.pods
      .list()
      .filter((pod) => pod.metadata.namespace === namespace);
    const { pods, unseen } = this.#owned.active(uid, inNamespace);
    if (!set.metadata.deletionTimestamp) {
      const difference = desired - pods.length - unseen;
      if (difference > 0) await this.#create(set, spec, Math.min(difference, burst));
      else if (difference < 0 && unseen === 0) await this.#remove(set, pods, -difference);
    }
    await this.#updateStatus(set, spec, pods, key);
  }

  async #create(set: KubeResource, spec: Json, count: number): Promise<void> {
    const namespace = set.metadata.namespace ?? 'default';
    const template = (spec.template ?? {}) as Json;
    const pod = podFromTemplate({ ...set, apiVersion: 'apps/v1', kind: 'ReplicaSet' }, template, {
      generateName: `${set.metadata.name ?? ''}-`,
    });
    await Promise.all(
      Array.from({ length: count }, async () => {
        const created = await this.client.create(resourcePath('v1', 'pods', namespace), pod);
        const name = created.metadata.name ?? '';
        this.#owned.created(set.metadata.uid ?? '', name);
        this.events.record(
          { ...set, apiVersion: 'apps/v1', kind: 'ReplicaSet' },
          'Normal',
          'SuccessfulCreate',
          `Created pod: ${name}`,
        );
      }),
    );
  }

  async #remove(set: KubeResource, pods: KubeResource[], count: number): Promise<void> {
    const victims = [...pods].sort(compareForDeletion).slice(0, Math.min(count, burst));
    await Promise.all(
      victims.map(async (pod) => {
        const name = pod.metadata.name ?? '';
        this.#owned.deleted(set.metadata.uid ?? '', name);
        try {
          await this.client.delete(resourcePath('v1', 'pods', pod.metadata.namespace, name), {
            preconditions: { uid: pod.metadata.uid },
          });
        } catch (error) {
          if (!(error instanceof Error && 'reason' in error && error.reason === 'NotFound'))
            throw error;
        }
        this.events.record(
          { ...set, apiVersion: 'apps/v1', kind: 'ReplicaSet' },
          'Normal',
          'SuccessfulDelete',
          `Deleted pod: ${name}`,
        );
      }),
    );
  }

  async #updateStatus(
    set: KubeResource,
    spec: Json,
    pods: KubeResource[],
    key: string,
  ): Promise<void> {
    const minReadySeconds = typeof spec.minReadySeconds === 'number' ? spec.minReadySeconds : 0;
    const templateLabels = ((spec.template as Json | undefined)?.metadata as Json | undefined)
      ?.labels as Record<string, string> | undefined;
    const now = Date.now();
    let available = 0;
    let recheckMs: number | undefined;
    for (const pod of pods) {
      const availability = podAvailability(pod, minReadySeconds, now);
      if (availability.available) available += 1;
      else if (availability.waitMs !== undefined)
        recheckMs = Math.min(recheckMs ?? Infinity, availability.waitMs);
    }
    if (recheckMs !== undefined) this.queue.addAfter(key, recheckMs + 10);
    const status: Json = {
      replicas: pods.length,
      fullyLabeledReplicas: pods.filter((pod) =>
        Object.entries(templateLabels ?? {}).every(
          ([label, value]) => pod.metadata.labels?.[label] === value,
        ),
      ).length,
      readyReplicas: pods.filter(isPodReady).length,
      availableReplicas: available,
      observedGeneration: set.metadata.generation ?? 1,
    };
    const current = (set.status ?? {}) as Json;
    const changed = Object.entries(status).some(
      ([field, value]) => (current[field] ?? 0) !== value,
    );
    if (!changed) return;
    await this.client.mergePatch(
      resourcePath('apps/v1', 'replicasets', set.metadata.namespace, set.metadata.name, 'status'),
      { status },
    );
  }
}
