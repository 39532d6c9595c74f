import { describe, expect, it } from 'vitest';
import {
  branchAction,
  branchEniCoolDownSeconds,
  branchEniTags,
  coolDownUpdatedMessage,
  goDuration,
  lowestFreeVlan,
  hasTrunkAttachedLabel,
  isSgpManagedNode,
  nodeEventMessages,
  podEniRequestCount,
} from './branch-eni.js';

describe('branch ENI arithmetic (rc.md §4)', () => {
  it('allocates the lowest free VLAN in 1..120', () => {
    expect(lowestFreeVlan(new Set())).toBe(1);
    expect(lowestFreeVlan(new Set([1, 2, 4]))).toBe(3);
    expect(
      lowestFreeVlan(new Set(Array.from({ length: 120 }, (_, index) => index + 1))),
    ).toBeUndefined();
  });

  it('counts integer pod-eni requests over every container', () => {
    const pod = {
      spec: {
        containers: [
          { resources: { requests: { 'vpc.amazonaws.com/pod-eni': '1' } } },
          { resources: { requests: { 'vpc.amazonaws.com/pod-eni': '2', cpu: '1' } } },
          { resources: { limits: { 'vpc.amazonaws.com/pod-eni': '5' } } },
          {},
        ],
      },
    };
    expect(podEniRequestCount(pod)).toBe(3);
    expect(podEniRequestCount({})).toBe(0);
  });

  it('releases on deletion, completion or a gone node, never on deletionTimestamp alone', () => {
    const bound = { spec: { nodeName: 'n' }, metadata: { deletionTimestamp: 'x' } };
    expect(branchAction(bound, true)).toBe('create');
    expect(branchAction(undefined, true)).toBe('delete');
    expect(branchAction({ ...bound, status: { phase: 'Succeeded' } }, true)).toBe('delete');
    expect(branchAction({ ...bound, status: { phase: 'Failed' } }, true)).toBe('delete');
    expect(branchAction(bound, false)).toBe('delete');
    expect(branchAction({ spec: {} }, true)).toBe('wait');
  });

  it('reads the cool-down with its 30 s floor and keeps the current value for a missing key', () => {
    expect(branchEniCoolDownSeconds(undefined)).toBe(60);
    expect(branchEniCoolDownSeconds('90')).toBe(90);
    expect(branchEniCoolDownSeconds('10')).toBe(30);
    expect(branchEniCoolDownSeconds('0')).toBe(30);
    expect(branchEniCoolDownSeconds('-5')).toBe(30);
    expect(branchEniCoolDownSeconds('soon', 45)).toBe(45);
    expect(branchEniCoolDownSeconds(undefined, 45)).toBe(45);
  });

  it("words durations as Go does, and the cool-down event as upstream's", () => {
    expect(goDuration(45)).toBe('45s');
    expect(goDuration(90)).toBe('1m30s');
    expect(goDuration(3600)).toBe('1h0m0s');
    expect(coolDownUpdatedMessage(90)).toBe(
      'Branch ENI cool down period has been updated to 1m30s',
    );
  });

  it('tags a branch ENI in upstream order', () => {
    expect(
      branchEniTags({ vlanId: 3, trunkEniId: 'eni-1', instanceId: 'i-1', clusterName: 'c' }),
    ).toEqual([
      { Key: 'vpcresources.k8s.aws/vlan-id', Value: '3' },
      { Key: 'vpcresources.k8s.aws/trunk-eni-id', Value: 'eni-1' },
      { Key: 'node.k8s.amazonaws.com/instance_id', Value: 'i-1' },
      { Key: 'eks:eni:owner', Value: 'eks-vpc-resource-controller' },
      { Key: 'kubernetes.io/cluster/c', Value: 'owned' },
    ]);
  });
});

describe('which nodes carry branch ENIs (rc.md §5.1)', () => {
  const linux = { 'kubernetes.io/os': 'linux' };
  it('manages a Linux instance that aws-node marked by label or CNINode feature', () => {
    const base = { labels: linux, instanceId: 'i-1', cniNodeFeatures: [] as string[] };
    expect(isSgpManagedNode(base)).toBe(false);
    expect(
      isSgpManagedNode({ ...base, labels: { ...linux, [hasTrunkAttachedLabel]: 'false' } }),
    ).toBe(true);
    expect(isSgpManagedNode({ ...base, cniNodeFeatures: ['SecurityGroupsForPods'] })).toBe(true);
  });

  it('skips Windows, Auto Mode and nodes without an instance', () => {
    const marked = { [hasTrunkAttachedLabel]: 'true' };
    const features: string[] = [];
    expect(
      isSgpManagedNode({
        labels: { 'kubernetes.io/os': 'windows', ...marked },
        instanceId: 'i-1',
        cniNodeFeatures: features,
      }),
    ).toBe(false);
    expect(
      isSgpManagedNode({
        labels: { ...linux, ...marked, 'eks.amazonaws.com/compute-type': 'auto' },
        instanceId: 'i-1',
        cniNodeFeatures: features,
      }),
    ).toBe(false);
    expect(
      isSgpManagedNode({
        labels: { 'beta.kubernetes.io/os': 'linux', ...marked },
        instanceId: undefined,
        cniNodeFeatures: features,
      }),
    ).toBe(false);
  });

  it('words the trunk failure with the IAM hint only for UnauthorizedOperation', () => {
    expect(nodeEventMessages.trunkCreationFailed('UnauthorizedOperation')).toBe(
      'Failed to create trunk interface: Error Code: UnauthorizedOperation: Please verify the cluster IAM role has AmazonEKSVPCResourceController policy',
    );
    expect(nodeEventMessages.trunkCreationFailed('InternalError')).toBe(
      'Failed to create trunk interface: Error Code: InternalError',
    );
  });
});
