/**
 * How EKS names and labels a node of a node group: the Node is named after its instance's
 * private DNS name (`ip-192-168-12-34.us-west-2.compute.internal`; `ec2.internal` in
 * us-east-1), its providerID is `aws:///<az>/<instance-id>`, and its labels say the instance
 * type, zone, region, node group and AMI as the EKS AMI's kubelet and the node group controller
 * set them; capacity and max pods come from the instance table.
 */
import { instanceTypeLimits } from '../instance-types/instance-types.js';

export function privateDnsName(privateIp: string, region: string): string {
  const domain = region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`;
  return `ip-${privateIp.replaceAll('.', '-')}.${domain}`;
}

export function providerId(availabilityZone: string, instanceId: string): string {
  return `aws:///${availabilityZone}/${instanceId}`;
}

export interface NodeIdentityInput {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly privateIp: string;
  readonly availabilityZone: string;
  readonly region: string;
  readonly nodeGroup: string;
  readonly managed: boolean;
  readonly imageId: string;
  readonly extraLabels?: Readonly<Record<string, string>>;
  /** eksctl labels every node of its groups, managed or not, with the cluster's name. */
  readonly clusterName?: string;
}

export interface NodeIdentity {
  readonly name: string;
  readonly providerId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly capacity: Readonly<Record<string, string>>;
}

/** A node's cpu, memory and pods capacity, from its instance type (EKS's max pods). */
export function nodeCapacity(instanceType: string): Record<string, string> {
  const limits = instanceTypeLimits(instanceType);
  if (!limits) throw new RangeError(`unknown instance type "${instanceType}"`);
  return {
    cpu: String(limits.vcpus),
    memory: `${String(limits.memoryMiB * 1024)}Ki`,
    pods: String(limits.eksMaxPods),
  };
}

export function nodeIdentity(input: NodeIdentityInput): NodeIdentity {
  const capacity = nodeCapacity(input.instanceType);
  const name = privateDnsName(input.privateIp, input.region);
  const groupLabels: Record<string, string> = {
    ...(input.clusterName ? { 'alpha.eksctl.io/cluster-name': input.clusterName } : {}),
    'alpha.eksctl.io/nodegroup-name': input.nodeGroup,
    ...(input.managed
      ? {
          'eks.amazonaws.com/nodegroup': input.nodeGroup,
          'eks.amazonaws.com/nodegroup-image': input.imageId,
          'eks.amazonaws.com/capacityType': 'ON_DEMAND',
        }
      : {}),
  };
  return {
    name,
    providerId: providerId(input.availabilityZone, input.instanceId),
    labels: {
      ...input.extraLabels,
      ...groupLabels,
      'kubernetes.io/hostname': name,
      'node.kubernetes.io/instance-type': input.instanceType,
      'beta.kubernetes.io/instance-type': input.instanceType,
      'topology.kubernetes.io/zone': input.availabilityZone,
      'topology.kubernetes.io/region': input.region,
      'failure-domain.beta.kubernetes.io/zone': input.availabilityZone,
      'failure-domain.beta.kubernetes.io/region': input.region,
      'k8s.io/cloud-provider-aws': 'eks',
    },
    capacity,
  };
}
