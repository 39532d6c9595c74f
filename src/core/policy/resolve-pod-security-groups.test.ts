import { describe, expect, it } from 'vitest';
import { resolvePodSecurityGroups, type PodIdentity } from './resolve-pod-security-groups.js';
import type { SecurityGroupPolicy, SecurityGroupPolicySpec } from './security-group-policy.js';

const policy = (
  name: string,
  spec: SecurityGroupPolicySpec,
  namespace = 'sg-per-pod',
): SecurityGroupPolicy => ({
  metadata: { name, namespace },
  spec,
});
const green: PodIdentity = {
  namespace: 'sg-per-pod',
  name: 'green-pod-1',
  labels: { app: 'green-pod' },
};
const defaultServiceAccount = { namespace: 'sg-per-pod', name: 'default', labels: {} };
const groups = (...groupIds: string[]) => ({ securityGroups: { groupIds } });

function resolve(
  policies: SecurityGroupPolicy[],
  pod = green,
  serviceAccount = defaultServiceAccount,
) {
  const result = resolvePodSecurityGroups({ pod, serviceAccount, policies });
  if (!result.ok) throw new Error(result.error);
  return result;
}

describe('resolving a pod to security groups', () => {
  it('matches the workshop policy for green and not for red', () => {
    const policies = [
      policy('allow-rds-access', {
        podSelector: { matchLabels: { app: 'green-pod' } },
        ...groups('sg-pod'),
      }),
    ];
    expect(resolve(policies).groupIds).toEqual(['sg-pod']);
    const red = resolve(policies, { ...green, name: 'red-pod-1', labels: { app: 'red-pod' } });
    expect(red.groupIds).toEqual([]);
    expect(red.judgements[0]).toMatchObject({
      outcome: 'not-matched',
      reason: 'podSelector requires app=green-pod, but the pod has app=red-pod',
    });
  });

  it('uses only policies of the pod namespace, and says so', () => {
    const result = resolve([
      policy('elsewhere', { podSelector: {}, ...groups('sg-a') }, 'default'),
    ]);
    expect(result.groupIds).toEqual([]);
    expect(result.judgements[0]?.outcome).toBe('other-namespace');
  });

  it('needs the service account even when no policy selects on it', () => {
    const result = resolvePodSecurityGroups({
      pod: green,
      serviceAccount: undefined,
      policies: [],
    });
    expect(result).toEqual({
      ok: false,
      error: 'serviceaccount "default" not found in namespace "sg-per-pod"',
    });
    const named = resolvePodSecurityGroups({
      pod: { ...green, serviceAccountName: 'app' },
      serviceAccount: undefined,
      policies: [],
    });
    expect(named.ok || named.error).toMatch(/"app"/);
  });

  it('skips a policy with neither selector, or without group ids', () => {
    const result = resolve([
      policy('no-selector', groups('sg-a')),
      policy('no-groups', { podSelector: {} }),
      policy('empty-groups', { podSelector: {}, securityGroups: { groupIds: [] } }),
    ]);
    expect(result.groupIds).toEqual([]);
    expect(result.judgements.map((j) => j.outcome)).toEqual([
      'invalid-policy',
      'invalid-policy',
      'invalid-policy',
    ]);
  });

  it('an empty selector matches every pod or every service account', () => {
    expect(resolve([policy('all-pods', { podSelector: {}, ...groups('sg-a') })]).groupIds).toEqual([
      'sg-a',
    ]);
    expect(
      resolve([policy('all-sas', { serviceAccountSelector: {}, ...groups('sg-b') })]).groupIds,
    ).toEqual(['sg-b']);
  });

  it('matches on service-account labels', () => {
    const policies = [
      policy('by-sa', {
        serviceAccountSelector: { matchLabels: { role: 'db-client' } },
        ...groups('sg-a'),
      }),
    ];
    expect(resolve(policies).groupIds).toEqual([]);
    const sa = { namespace: 'sg-per-pod', name: 'app', labels: { role: 'db-client' } };
    expect(resolve(policies, { ...green, serviceAccountName: 'app' }, sa).groupIds).toEqual([
      'sg-a',
    ]);
  });

  it('requires both selectors when both are set', () => {
    const spec = {
      podSelector: { matchLabels: { app: 'green-pod' } },
      serviceAccountSelector: { matchLabels: { role: 'x' } },
      ...groups('sg-a'),
    };
    const result = resolve([policy('both', spec)]);
    expect(result.groupIds).toEqual([]);
    expect(result.judgements[0]?.reason).toMatch(/serviceAccountSelector requires role=x/);
    const sa = { ...defaultServiceAccount, labels: { role: 'x' } };
    expect(resolve([policy('both', spec)], green, sa).groupIds).toEqual(['sg-a']);
  });

  it('counts a selector that does not convert as not matched', () => {
    const result = resolve([
      policy('bad-op', {
        podSelector: {
          matchExpressions: [{ key: 'app', operator: 'Equals', values: ['green-pod'] }],
        },
        ...groups('sg-a'),
      }),
    ]);
    expect(result.groupIds).toEqual([]);
    expect(result.judgements[0]).toMatchObject({
      outcome: 'selector-error',
      reason: expect.stringContaining('"Equals" is not a valid label selector operator'),
    });
  });

  it('unions groups of all matching policies in list order, first occurrence kept', () => {
    const result = resolve([
      policy('p1', { podSelector: {}, ...groups('sg-c', 'sg-a') }),
      policy('p2', { podSelector: { matchLabels: { app: 'red-pod' } }, ...groups('sg-x') }),
      policy('p3', {
        podSelector: { matchLabels: { app: 'green-pod' } },
        ...groups('sg-a', 'sg-b', 'sg-c'),
      }),
    ]);
    expect(result.groupIds).toEqual(['sg-c', 'sg-a', 'sg-b']);
    expect(result.judgements.map((j) => j.outcome)).toEqual(['matched', 'not-matched', 'matched']);
  });

  it('does not cap the number of groups (EC2 enforces its own limit later)', () => {
    const many = Array.from({ length: 7 }, (_, i) => `sg-${i}`);
    expect(
      resolve([policy('many', { podSelector: {}, ...groups(...many) })]).groupIds,
    ).toHaveLength(7);
  });
});
