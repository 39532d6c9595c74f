/**
 * Facts about pods that several controllers read, as Kubernetes' `podutil` computes them:
 * which pods are active, ready, available; which object controls an object.
 */
type Json = Record<string, unknown>;

export interface PodLike {
  readonly metadata: {
    readonly name?: string;
    readonly uid?: string;
    readonly deletionTimestamp?: string;
    readonly creationTimestamp?: string;
    readonly ownerReferences?: readonly {
      readonly uid: string;
      readonly kind: string;
      readonly name: string;
      readonly controller?: boolean;
    }[];
    readonly labels?: Readonly<Record<string, string>>;
  };
  readonly spec?: unknown;
  readonly status?: unknown;
}

function statusOf(pod: PodLike): Json {
  return (pod.status ?? {}) as Json;
}

export function podPhase(pod: PodLike): string {
  const phase = statusOf(pod).phase;
  return typeof phase === 'string' ? phase : 'Pending';
}

/** Not finished and not being deleted: a pod that counts toward a controller's replicas. */
export function isActivePod(pod: PodLike): boolean {
  const phase = podPhase(pod);
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata.deletionTimestamp;
}

function readyCondition(pod: PodLike): Json | undefined {
  const conditions = statusOf(pod).conditions;
  return Array.isArray(conditions)
    ? (conditions as Json[]).find((condition) => condition.type === 'Ready')
    : undefined;
}

export function isPodReady(pod: PodLike): boolean {
  return readyCondition(pod)?.status === 'True';
}

/**
 * Ready for at least `minReadySeconds` at `nowMs`; when not yet, `waitMs` says how long until it
 * is (so the controller can look again then).
 */
export function podAvailability(
  pod: PodLike,
  minReadySeconds: number,
  nowMs: number,
): { readonly available: boolean; readonly waitMs?: number } {
  const condition = readyCondition(pod);
  if (condition?.status !== 'True') return { available: false };
  if (minReadySeconds <= 0) return { available: true };
  const since = Date.parse(
    typeof condition.lastTransitionTime === 'string' ? condition.lastTransitionTime : '',
  );
  if (Number.isNaN(since)) return { available: true };
  const remaining = since + minReadySeconds * 1000 - nowMs;
  return remaining <= 0 ? { available: true } : { available: false, waitMs: remaining };
}

/** The controller owner reference of an object, if any. */
export function controllerOf(
  object: PodLike,
): { uid: string; kind: string; name: string } | undefined {
  return object.metadata.ownerReferences?.find((reference) => reference.controller === true);
}

/**
 * The order in which a ReplicaSet gives up pods when it shrinks (`ActivePods` sort): unassigned
 * before assigned, pending before running, not ready before ready, newer before older.
 */
export function deletionRank(pod: PodLike): [number, number, number, number] {
  const spec = (pod.spec ?? {}) as Json;
  const phase = podPhase(pod);
  const phaseRank = phase === 'Pending' ? 0 : phase === 'Unknown' ? 1 : 2;
  const created = Date.parse(pod.metadata.creationTimestamp ?? '') || 0;
  return [spec.nodeName ? 1 : 0, phaseRank, isPodReady(pod) ? 1 : 0, -created];
}

export function compareForDeletion(a: PodLike, b: PodLike): number {
  const left = deletionRank(a);
  const right = deletionRank(b);
  for (let index = 0; index < left.length; index += 1) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}
