import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  deploymentConditions,
  newReplicaSetSize,
  oldReplicaSetSizes,
  rollingLimits,
  safeEncode,
  scaledValue,
  templateHash,
} from './workloads.js';

describe('workload arithmetic', () => {
  it('hashes templates stably, whatever the key order, in the safe alphabet', () => {
    const a = templateHash({ metadata: { labels: { app: 'web' } }, spec: { containers: [] } });
    const b = templateHash({ spec: { containers: [] }, metadata: { labels: { app: 'web' } } });
    expect(a).toBe(b);
    expect(a).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
    expect(templateHash({ spec: { containers: [{ image: 'x' }] } })).not.toBe(a);
    expect(templateHash({ a: 1 }, 1)).not.toBe(templateHash({ a: 1 }));
    expect(safeEncode('0123')).toBe('4567');
    expect(safeEncode('6789')).toBe('bcdf');
  });

  it('resolves intstr values as Kubernetes rounds them', () => {
    expect(scaledValue('25%', 10, true)).toBe(3);
    expect(scaledValue('25%', 10, false)).toBe(2);
    expect(scaledValue(2, 10, true)).toBe(2);
    expect(rollingLimits(undefined, 4)).toEqual({ maxSurge: 1, maxUnavailable: 1 });
    expect(rollingLimits({ rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } }, 4)).toEqual({
      maxSurge: 0,
      maxUnavailable: 1,
    });
  });

  it('surges the new ReplicaSet and drains old ones within the limits', () => {
    const limits = { maxSurge: 1, maxUnavailable: 1 };
    const old = { name: 'old', replicas: 4, available: 4 };
    const fresh = { name: 'new', replicas: 0, available: 0 };
    expect(newReplicaSetSize(4, limits, fresh, [fresh, old])).toBe(1);
    // With one new pod not available yet, one old pod may go (4 - 1 unavailable allowed).
    const sizes = oldReplicaSetSizes(4, limits, { ...fresh, replicas: 1 }, [old]);
    expect(sizes.get('old')).toBe(3);
    // Unavailable old pods go first, beyond the available budget.
    const broken = oldReplicaSetSizes(4, limits, { ...fresh, replicas: 1 }, [
      { name: 'old', replicas: 4, available: 2 },
    ]);
    expect(broken.get('old')).toBe(3);
  });

  it('never drops availability below desired - maxUnavailable, never surges past desired + maxSurge', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 20 }),
        (desired, surge, unavailable, newReplicas, oldReplicas) => {
          const limits = rollingLimits(
            { rollingUpdate: { maxSurge: surge, maxUnavailable: unavailable } },
            desired,
          );
          const fresh = { name: 'new', replicas: Math.min(newReplicas, desired), available: 0 };
          const old = { name: 'old', replicas: oldReplicas, available: oldReplicas };
          const next = newReplicaSetSize(desired, limits, fresh, [fresh, old]);
          expect(next).toBeLessThanOrEqual(desired);
          expect(next).toBeGreaterThanOrEqual(fresh.replicas);
          if (fresh.replicas + oldReplicas <= desired + limits.maxSurge) {
            expect(next + oldReplicas).toBeLessThanOrEqual(desired + limits.maxSurge);
          }
          const kept = oldReplicaSetSizes(desired, limits, { ...fresh, replicas: next }, [old]).get(
            'old',
          );
          expect(kept).toBeGreaterThanOrEqual(
            Math.min(oldReplicas, desired - limits.maxUnavailable),
          );
        },
      ),
    );
  });

  it('words the Deployment conditions rollout status reads', () => {
    const done = deploymentConditions({
      name: 'web',
      newSetName: 'web-abc',
      desired: 2,
      available: 2,
      updated: 2,
      total: 2,
      maxUnavailable: 0,
      createdNewSet: false,
    });
    expect(done).toEqual([
      expect.objectContaining({
        type: 'Available',
        status: 'True',
        reason: 'MinimumReplicasAvailable',
      }),
      expect.objectContaining({
        type: 'Progressing',
        reason: 'NewReplicaSetAvailable',
        message: 'ReplicaSet "web-abc" has successfully progressed.',
      }),
    ]);
  });
});
