/**
 * The resource controller's branch-ENI arithmetic (rc.md §4.1–§4.6), pure: how many branch ENIs
 * a pod asks for, whether a pod's ENIs are to be made or released, the lowest free VLAN of a
 * trunk, the cool-down setting with its floor and its event wording, the tags a branch ENI
 * carries in upstream's order, which nodes are managed, and the node events' wording.
 */
import { podEniResource } from './pod-admission.js';

type Json = Record<string, unknown>;

/** VLAN 0 is reserved; a trunk carries at most 120 branches. */
export const maxVlanId = 120;
export const defaultCoolDownSeconds = 60;
export const minimumCoolDownSeconds = 30;
export const branchEniDescription = 'aws-k8s-branch-eni';
export const controllerEniOwner = 'eks-vpc-resource-controller';

/** Lowest free VLAN in 1..120; undefined when the trunk is full. */
export function lowestFreeVlan(used: ReadonlySet<number>): number | undefined {
  for (let vlan = 1; vlan <= maxVlanId; vlan += 1) if (!used.has(vlan)) return vlan;
  return undefined;
}

/** The sum of integer pod-eni requests over the pod's regular containers. */
export function podEniRequestCount(pod: Json): number {
  const containers = ((pod.spec as Json | undefined)?.containers ?? []) as Json[];
  let count = 0;
  for (const container of containers) {
    const requests = ((container.resources as Json | undefined)?.requests ?? {}) as Json;
    const value = Number(requests[podEniResource] ?? 0);
    if (Number.isInteger(value) && value > 0) count += value;
  }
  return count;
}

/**
 * What a pod event means for its ENIs: released when the pod is gone, has completed, or its node
 * is gone; a pod merely terminating keeps its ENIs until then. Unbound pods wait.
 */
export function branchAction(
  pod: Json | undefined,
  nodeExists: boolean,
): 'create' | 'delete' | 'wait' {
  if (!pod) return 'delete';
  const phase = (pod.status as Json | undefined)?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return 'delete';
  const nodeName = (pod.spec as Json | undefined)?.nodeName;
  if (typeof nodeName !== 'string' || nodeName === '') return 'wait';
  return nodeExists ? 'create' : 'delete';
}

/**
 * The cool-down from the `amazon-vpc-cni` ConfigMap's `branch-eni-cooldown` (seconds): below 30
 * reads as 30; missing or unparsable keeps `current` (the default before any was read).
 */
export function branchEniCoolDownSeconds(
  value: string | undefined,
  current = defaultCoolDownSeconds,
): number {
  if (value === undefined || !/^-?\d+$/.test(value.trim())) return current;
  return Math.max(minimumCoolDownSeconds, Number(value.trim()));
}

/** Go's `time.Duration` wording of whole seconds (`1m30s`, `45s`, `1h0m0s`). */
export function goDuration(seconds: number): string {
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (hours > 0) return `${String(hours)}h${String(minutes)}m${String(rest)}s`;
  if (minutes > 0) return `${String(minutes)}m${String(rest)}s`;
  return `${String(rest)}s`;
}

export function coolDownUpdatedMessage(seconds: number): string {
  return `Branch ENI cool down period has been updated to ${goDuration(seconds)}`;
}

/** The tags of a branch ENI, in upstream's order (rc.md §4.3). */
export function branchEniTags(input: {
  vlanId: number;
  trunkEniId: string;
  instanceId: string;
  clusterName: string;
}): { Key: string; Value: string }[] {
  return [
    { Key: 'vpcresources.k8s.aws/vlan-id', Value: String(input.vlanId) },
    { Key: 'vpcresources.k8s.aws/trunk-eni-id', Value: input.trunkEniId },
    { Key: 'node.k8s.amazonaws.com/instance_id', Value: input.instanceId },
    { Key: 'eks:eni:owner', Value: controllerEniOwner },
    { Key: `kubernetes.io/cluster/${input.clusterName}`, Value: 'owned' },
  ];
}

export const hasTrunkAttachedLabel = 'vpc.amazonaws.com/has-trunk-attached';
export const securityGroupsForPodsFeature = 'SecurityGroupsForPods';

/**
 * Whether the controller manages a node's branch ENIs (rc.md §5.1): a Linux node with an
 * instance behind it, not in EKS Auto Mode, that aws-node marked (label present with any value,
 * or the CNINode feature).
 */
export function isSgpManagedNode(node: {
  labels: Readonly<Record<string, string>>;
  instanceId: string | undefined;
  cniNodeFeatures: readonly string[];
}): boolean {
  const { labels } = node;
  if (labels['eks.amazonaws.com/compute-type'] === 'auto') return false;
  const os = labels['kubernetes.io/os'] ?? labels['beta.kubernetes.io/os'];
  if (os !== 'linux' || !node.instanceId) return false;
  return (
    hasTrunkAttachedLabel in labels || node.cniNodeFeatures.includes(securityGroupsForPodsFeature)
  );
}

/** The node events' wording (rc.md §5.2, §6.1). */
export const nodeEventMessages = {
  versionNotice: (version: string): string =>
    `The node is managed by VPC resource controller version ${version}`,
  unknownType: (instanceType: string): string =>
    `The instance type ${instanceType} is not supported yet by the vpc resource controller`,
  noTrunking: (instanceType: string): string =>
    `The instance type ${instanceType} is not supported for trunk interface (Security Group for Pods)`,
  trunkInitiated: 'The node has trunk interface initialized successfully',
  trunkFailedInit: 'The node failed initializing trunk interface',
  trunkCreationFailed: (code: string): string =>
    `Failed to create trunk interface: Error Code: ${code}` +
    (code === 'UnauthorizedOperation'
      ? ': Please verify the cluster IAM role has AmazonEKSVPCResourceController policy'
      : ''),
};
