/**
 * What a controller knows about the pods it creates and deletes before its informer does (the
 * role of client-go's "expectations"): pods it created that the informer has not shown yet, and
 * pods it deleted that the informer still shows, so it never creates or deletes twice.
 */
import type { KubeResource } from '../../../adapters/kube/kube-http-client.js';
import { controllerOf, isActivePod } from './pod-facts.js';

export class OwnedPods {
  readonly #created = new Map<string, Set<string>>();
  readonly #deleted = new Map<string, Set<string>>();

  created(ownerUid: string, podName: string): void {
    this.#setOf(this.#created, ownerUid).add(podName);
  }

  deleted(ownerUid: string, podName: string): void {
    this.#setOf(this.#deleted, ownerUid).add(podName);
  }

  forget(ownerUid: string): void {
    this.#created.delete(ownerUid);
    this.#deleted.delete(ownerUid);
  }

  #setOf(map: Map<string, Set<string>>, key: string): Set<string> {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    return set;
  }

  /**
   * The owner's active pods as the informer shows them, less those it deleted, plus the names of
   * those it created and the informer has not shown yet.
   */
  active(
    ownerUid: string,
    pods: readonly KubeResource[],
  ): { readonly pods: KubeResource[]; readonly unseen: number } {
    const owned = pods.filter((pod) => controllerOf(pod)?.uid === ownerUid);
    const names = new Set(owned.map((pod) => pod.metadata.name ?? ''));
    const created = this.#created.get(ownerUid);
    for (const name of created ?? []) if (names.has(name)) created?.delete(name);
    const deleted = this.#deleted.get(ownerUid);
    for (const name of deleted ?? []) {
      const pod = owned.find((candidate) => candidate.metadata.name === name);
      if (!pod || pod.metadata.deletionTimestamp) deleted?.delete(name);
    }
    const active = owned.filter(
      (pod) => isActivePod(pod) && !(deleted?.has(pod.metadata.name ?? '') ?? false),
    );
    return { pods: active, unseen: created?.size ?? 0 };
  }
}
