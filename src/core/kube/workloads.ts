/**
 * The arithmetic of Kubernetes' workload controllers, pure: the pod-template hash that names a
 * Deployment's ReplicaSets, `intstr` percentages, how far a rolling update may scale the new
 * ReplicaSet up and the old ones down (kube-controller-manager's `reconcileNewReplicaSet` /
 * `reconcileOldReplicaSets`), and the status and conditions `kubectl rollout status` reads.
 */
import { fnv1a32 } from '../hash.js';

type Json = Record<string, unknown>;

const safeAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

/** apimachinery's `rand.SafeEncodeString`: no vowels, no ambiguous characters. */
export function safeEncode(text: string): string {
  return Array.from(
    { length: text.length },
    (_, index) => safeAlphabet[text.charCodeAt(index) % safeAlphabet.length],
  ).join('');
}

/** Keys in a stable order, so equal templates hash equally whatever order fields came in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Json)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `pod-template-hash` / `controller-revision-hash` of a template (plus collisionCount). */
export function templateHash(template: unknown, collisionCount = 0): string {
  const text = canonicalJson(template) + (collisionCount > 0 ? String(collisionCount) : '');
  return safeEncode(String(fnv1a32(text)));
}

/** An `intstr` (`3` or `"25%"`) against `total`, rounding a percentage up or down. */
export function scaledValue(value: unknown, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const match = /^(\d+)%$/.exec(value);
    if (match) {
      const exact = (Number(match[1]) * total) / 100;
      return roundUp ? Math.ceil(exact) : Math.floor(exact);
    }
    const number = Number(value);
    if (Number.isInteger(number)) return number;
  }
  return 0;
}

export interface RollingLimits {
  readonly maxSurge: number;
  readonly maxUnavailable: number;
}

/** `maxSurge` (default 25%, rounded up) and `maxUnavailable` (default 25%, rounded down; never both 0). */
export function rollingLimits(strategy: Json | undefined, replicas: number): RollingLimits {
  const rolling = (strategy?.rollingUpdate ?? {}) as Json;
  const maxSurge = scaledValue(rolling.maxSurge ?? '25%', replicas, true);
  const maxUnavailable = scaledValue(rolling.maxUnavailable ?? '25%', replicas, false);
  return { maxSurge, maxUnavailable: maxSurge === 0 && maxUnavailable === 0 ? 1 : maxUnavailable };
}

export interface ReplicaSetCounts {
  readonly name: string;
  /** spec.replicas */
  readonly replicas: number;
  /** status.availableReplicas */
  readonly available: number;
}

/** The new ReplicaSet's next size during a rolling update. */
export function newReplicaSetSize(
  desired: number,
  limits: RollingLimits,
  newSet: ReplicaSetCounts,
  allSets: readonly ReplicaSetCounts[],
): number {
  if (newSet.replicas > desired) return desired;
  const current = allSets.reduce((sum, set) => sum + set.replicas, 0);
  const room = Math.max(0, desired + limits.maxSurge - current);
  return Math.min(desired, newSet.replicas + room);
}

/**
 * How far each old ReplicaSet (oldest first) shrinks now: first its unavailable pods, then
 * available ones while at least `desired - maxUnavailable` stay available.
 */
export function oldReplicaSetSizes(
  desired: number,
  limits: RollingLimits,
  newSet: ReplicaSetCounts,
  oldSets: readonly ReplicaSetCounts[],
): Map<string, number> {
  const sizes = new Map(oldSets.map((set) => [set.name, set.replicas]));
  const all = [newSet, ...oldSets];
  const allPods = all.reduce((sum, set) => sum + set.replicas, 0);
  const minAvailable = desired - limits.maxUnavailable;
  const newUnavailable = Math.max(0, newSet.replicas - newSet.available);
  let budget = allPods - minAvailable - newUnavailable;
  if (budget <= 0) return sizes;
  for (const set of oldSets) {
    const unhealthy = Math.max(0, set.replicas - set.available);
    const cut = Math.min(unhealthy, budget);
    if (cut > 0) sizes.set(set.name, set.replicas - cut);
    budget -= cut;
    if (budget <= 0) break;
  }
  const available = all.reduce((sum, set) => sum + set.available, 0);
  let scaleDown = available - minAvailable;
  for (const set of oldSets) {
    if (scaleDown <= 0) break;
    const size = sizes.get(set.name) ?? 0;
    const cut = Math.min(size, scaleDown);
    sizes.set(set.name, size - cut);
    scaleDown -= cut;
  }
  return sizes;
}

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastUpdateTime?: string;
  readonly lastTransitionTime?: string;
}

/**
 * A condition list with `next` set: transition time kept when the status did not change, update
 * time refreshed when reason or message did.
 */
export function withCondition(
  conditions: readonly Condition[],
  next: Condition,
  now: string,
  withUpdateTime = true,
): Condition[] {
  const previous = conditions.find((condition) => condition.type === next.type);
  const same =
    previous?.status === next.status &&
    previous.reason === next.reason &&
    previous.message === next.message;
  const merged: Condition = same
    ? previous
    : {
        ...next,
        ...(withUpdateTime ? { lastUpdateTime: now } : {}),
        lastTransitionTime:
          previous?.status === next.status ? (previous.lastTransitionTime ?? now) : now,
      };
  return [...conditions.filter((condition) => condition.type !== next.type), merged];
}

/** Deployment conditions as the deployment controller words them. */
export function deploymentConditions(options: {
  readonly name: string;
  readonly newSetName: string | undefined;
  readonly desired: number;
  readonly available: number;
  readonly updated: number;
  readonly total: number;
  readonly maxUnavailable: number;
  readonly createdNewSet: boolean;
}): Condition[] {
  const { newSetName, desired, available, updated, total, maxUnavailable } = options;
  const minimumAvailable = available >= desired - maxUnavailable;
  const availableCondition: Condition = {
    type: 'Available',
    status: minimumAvailable ? 'True' : 'False',
    reason: minimumAvailable ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
    message: minimumAvailable
      ? 'Deployment has minimum availability.'
      : 'Deployment does not have minimum availability.',
  };
  const complete = updated === desired && available === desired && total === desired;
  const progressing: Condition = complete
    ? {
        type: 'Progressing',
        status: 'True',
        reason: 'NewReplicaSetAvailable',
        message: `ReplicaSet "${newSetName ?? ''}" has successfully progressed.`,
      }
    : options.createdNewSet
      ? {
          type: 'Progressing',
          status: 'True',
          reason: 'NewReplicaSetCreated',
          message: `Created new replica set "${newSetName ?? ''}"`,
        }
      : {
          type: 'Progressing',
          status: 'True',
          reason: 'ReplicaSetUpdated',
          message: `ReplicaSet "${newSetName ?? ''}" is progressing.`,
        };
  return [availableCondition, progressing];
}
