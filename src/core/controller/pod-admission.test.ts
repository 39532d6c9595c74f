import { describe, expect, it } from 'vitest';
import {
  firstContainerResourcePatch,
  mutatePod,
  podPathOf,
  sameJson,
  validateNodeUpdate,
  validatePod,
} from './pod-admission.js';

const matched = () => ({ ok: true as const, groupIds: ['sg-1', 'sg-2'], judgements: [] });
const unmatched = () => ({ ok: true as const, groupIds: [], judgements: [] });
const failed = () => ({ ok: false as const, error: 'serviceaccount "x" not found' });

function pod(extra: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) {
  return {
    metadata: { name: 'p', namespace: 'ns', labels: { app: 'green' }, ...extra },
    spec: { containers: [{ name: 'app', image: 'busybox' }, { name: 'side' }], ...spec },
  };
}

describe('the mutating pod webhook (rc.md §3.1)', () => {
  it('classifies in upstream order: hostNetwork, Fargate, Windows nodeSelector, Linux', () => {
    expect(podPathOf(pod({}, { hostNetwork: true }))).toBe('host-network');
    expect(
      podPathOf(
        pod({ labels: { 'eks.amazonaws.com/fargate-profile': 'fp' } }, { hostNetwork: true }),
      ),
    ).toBe('host-network');
    expect(podPathOf(pod({ labels: { 'eks.amazonaws.com/fargate-profile': 'fp' } }))).toBe(
      'fargate',
    );
    expect(podPathOf(pod({}, { nodeSelector: { 'kubernetes.io/os': 'windows' } }))).toBe('windows');
    expect(podPathOf(pod({}, { nodeSelector: { 'beta.kubernetes.io/os': 'windows' } }))).toBe(
      'windows',
    );
    // Affinity is not inspected, as upstream.
    expect(podPathOf(pod({}, { affinity: { nodeAffinity: {} } }))).toBe('linux');
  });

  it('requests pod-eni in the first container only, limits and requests, when a policy matches', () => {
    const decision = mutatePod(pod(), matched);
    expect(decision).toEqual({
      allowed: true,
      reason: 'Pod matched SGP: sg-1, sg-2',
      patch: [
        {
          op: 'add',
          path: '/spec/containers/0/resources',
          value: {
            limits: { 'vpc.amazonaws.com/pod-eni': '1' },
            requests: { 'vpc.amazonaws.com/pod-eni': '1' },
          },
        },
      ],
    });
    const withResources = pod(
      {},
      {
        containers: [
          {
            name: 'app',
            resources: { limits: { memory: '1Gi', 'vpc.amazonaws.com/pod-eni': '3' } },
          },
        ],
      },
    );
    expect(firstContainerResourcePatch(withResources, 'vpc.amazonaws.com/pod-eni')).toEqual([
      {
        op: 'replace',
        path: '/spec/containers/0/resources/limits/vpc.amazonaws.com~1pod-eni',
        value: '1',
      },
      {
        op: 'add',
        path: '/spec/containers/0/resources/requests',
        value: { 'vpc.amazonaws.com/pod-eni': '1' },
      },
    ]);
  });

  it('leaves unmatched, hostNetwork and Windows pods alone, and denies when the lookup fails', () => {
    expect(mutatePod(pod(), unmatched)).toEqual({
      allowed: true,
      reason: "Pod didn't match any SGP",
    });
    expect(mutatePod(pod({}, { hostNetwork: true }), matched)).toMatchObject({ allowed: true });
    expect(mutatePod(pod({}, { hostNetwork: true }), matched)).not.toHaveProperty('patch');
    expect(
      mutatePod(pod({}, { nodeSelector: { 'kubernetes.io/os': 'windows' } }), matched),
    ).not.toHaveProperty('patch');
    expect(mutatePod(pod(), failed)).toEqual({
      allowed: false,
      reason:
        'Failed to get Matching SGP for Pods, rejecting event, error serviceaccount "x" not found',
    });
    // Windows IPAM asks for a private IPv4 address instead.
    expect(
      mutatePod(pod({}, { nodeSelector: { 'kubernetes.io/os': 'windows' } }), matched, true),
    ).toMatchObject({
      patch: [
        {
          path: '/spec/containers/0/resources',
          value: { limits: { 'vpc.amazonaws.com/PrivateIPv4Address': '1' } },
        },
      ],
    });
  });

  it('annotates Fargate pods with their groups, and removes a stale annotation', () => {
    const fargate = pod({ labels: { 'eks.amazonaws.com/fargate-profile': 'fp' } });
    expect(mutatePod(fargate, matched)).toMatchObject({
      patch: [
        {
          op: 'add',
          path: '/metadata/annotations',
          value: { 'fargate.amazonaws.com/pod-sg': 'sg-1,sg-2' },
        },
      ],
    });
    const stale = pod({
      labels: { 'eks.amazonaws.com/fargate-profile': 'fp' },
      annotations: { 'fargate.amazonaws.com/pod-sg': 'sg-9' },
    });
    expect(mutatePod(stale, unmatched)).toMatchObject({
      patch: [{ op: 'remove', path: '/metadata/annotations/fargate.amazonaws.com~1pod-sg' }],
    });
    expect(mutatePod(fargate, failed)).toEqual({
      allowed: false,
      reason: 'Failed to get Matching SGP for Pods, rejecting event',
    });
  });
});

describe('the validating pod webhook (rc.md §3.2)', () => {
  const annotated = pod({ annotations: { 'vpc.amazonaws.com/pod-eni': '[]' } });
  const controller = 'system:serviceaccount:kube-system:vpc-resource-controller';

  it('denies creating a pod with the annotation, whoever asks', () => {
    expect(validatePod('CREATE', annotated, undefined, controller)).toEqual({
      allowed: false,
      reason: 'pod cannot be created with vpc.amazonaws.com/pod-eni annotation',
    });
    expect(validatePod('CREATE', pod(), undefined, 'alice')).toMatchObject({ allowed: true });
  });

  it('lets only the controller identities change the annotation', () => {
    expect(validatePod('UPDATE', annotated, pod(), 'alice')).toEqual({
      allowed: false,
      reason: 'annotation is not set by vpc-resource-controller',
    });
    expect(validatePod('UPDATE', pod(), annotated, 'alice')).toMatchObject({ allowed: false });
    for (const user of [
      controller,
      'eks:vpc-resource-controller',
      'system:serviceaccount:kube-system:eks-vpc-resource-controller',
    ])
      expect(validatePod('UPDATE', annotated, pod(), user)).toMatchObject({ allowed: true });
    expect(validatePod('UPDATE', annotated, annotated, 'alice')).toMatchObject({ allowed: true });
  });

  it('denies any change of the Fargate annotation on update', () => {
    const fargate = pod({ annotations: { 'fargate.amazonaws.com/pod-sg': 'sg-1' } });
    expect(validatePod('UPDATE', fargate, pod(), controller)).toEqual({
      allowed: false,
      reason: 'annotation is not set by mutating webhook',
    });
  });
});

describe('the validating node webhook (rc.md §3.3)', () => {
  const node = (labels: Record<string, string>, extra: Record<string, unknown> = {}) => ({
    metadata: { name: 'n', labels, managedFields: [{ manager: 'x' }] },
    spec: { providerID: 'aws:///us-west-2a/i-1' },
    ...extra,
  });
  const awsNode = 'system:serviceaccount:kube-system:aws-node';

  it('lets aws-node change only its two labels', () => {
    expect(
      validateNodeUpdate(
        awsNode,
        node({ a: '1', 'vpc.amazonaws.com/has-trunk-attached': 'true' }),
        node({ a: '1' }),
      ),
    ).toMatchObject({ allowed: true });
    expect(validateNodeUpdate(awsNode, node({ a: '2' }), node({ a: '1' }))).toEqual({
      allowed: false,
      reason: 'aws-node can only update limited fields on the Node Object',
    });
    expect(validateNodeUpdate('kubelet', node({ a: '2' }), node({ a: '1' }))).toMatchObject({
      allowed: true,
    });
  });

  it('compares JSON structurally', () => {
    expect(sameJson({ a: [1, { b: 2 }], c: null }, { c: null, a: [1, { b: 2 }] })).toBe(true);
    expect(sameJson({ a: [1] }, { a: { 0: 1 } })).toBe(false);
    expect(sameJson({ a: 1 }, { a: 1, b: undefined })).toBe(false);
  });
});
