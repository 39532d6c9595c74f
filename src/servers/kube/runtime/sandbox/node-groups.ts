/**
 * Node groups as EKS makes them: EC2 instances launched through the EC2 API with the tags EKS
 * and eksctl put on node group instances, their primary interface carrying the cluster
 * security group, spread over the cluster's subnets (one zone after another), with the node
 * role as instance profile. A node group is nothing but its tagged instances, so the cluster
 * runtime follows instances, and deleting a group terminates them.
 */
import {
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Instance,
  type Tag,
} from '@aws-sdk/client-ec2';
import type { NodeGroupConfig } from '../../../../core/eks/cluster-config.js';

/** The EKS-optimized AMI the sandbox's node groups report (`eks.amazonaws.com/nodegroup-image`). */
export const eksOptimizedImageId = 'ami-0f1e2d3c4b5a69788';

export const clusterNameTag = 'eks:cluster-name';
export const nodeGroupNameTag = 'eks:nodegroup-name';
export const nodeGroupTypeTag = 'alpha.eksctl.io/nodegroup-type';

export interface ClusterPlacement {
  readonly clusterName: string;
  readonly clusterSecurityGroupId: string;
  readonly subnetIds: readonly string[];
  /** The instance profile the nodes get (the node role's name). */
  readonly instanceProfileName?: string;
}

export interface NodeInstance {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly privateIp: string;
  readonly availabilityZone: string;
  readonly imageId: string;
  readonly state: string;
  readonly nodeGroup: string;
  readonly managed: boolean;
  readonly primaryInterfaceId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly { key: string; value: string; effect: string }[];
}

/** Node labels and taints travel as instance tags (as eksctl's self-managed groups pass them). */
const labelTagPrefix = 'k8s.io/cluster-autoscaler/node-template/label/';
const taintTagPrefix = 'k8s.io/cluster-autoscaler/node-template/taint/';

function groupTags(clusterName: string, group: NodeGroupConfig): Tag[] {
  return [
    { Key: 'Name', Value: `${clusterName}-${group.name}-Node` },
    { Key: clusterNameTag, Value: clusterName },
    { Key: nodeGroupNameTag, Value: group.name },
    { Key: `kubernetes.io/cluster/${clusterName}`, Value: 'owned' },
    { Key: 'alpha.eksctl.io/cluster-name', Value: clusterName },
    { Key: 'alpha.eksctl.io/nodegroup-name', Value: group.name },
    { Key: nodeGroupTypeTag, Value: group.managed ? 'managed' : 'unmanaged' },
    { Key: 'k8s.io/cluster-autoscaler/enabled', Value: 'true' },
    { Key: `k8s.io/cluster-autoscaler/${clusterName}`, Value: 'owned' },
    ...Object.entries(group.labels).map(([key, value]) => ({
      Key: `${labelTagPrefix}${key}`,
      Value: value,
    })),
    ...group.taints.map((taint) => ({
      Key: `${taintTagPrefix}${taint.key}`,
      Value: `${taint.value}:${taint.effect}`,
    })),
  ];
}

function tagMap(tags: readonly Tag[] | undefined): Map<string, string> {
  return new Map((tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
}

function nodeInstanceOf(instance: Instance): NodeInstance | undefined {
  const tags = tagMap(instance.Tags);
  const nodeGroup = tags.get(nodeGroupNameTag);
  const primary = instance.NetworkInterfaces?.find(
    (nic) => nic.Attachment?.DeviceIndex === 0,
  )?.NetworkInterfaceId;
  if (nodeGroup === undefined || !instance.InstanceId || !instance.PrivateIpAddress || !primary)
    return undefined;
  return {
    instanceId: instance.InstanceId,
    instanceType: instance.InstanceType ?? '',
    privateIp: instance.PrivateIpAddress,
    availabilityZone: instance.Placement?.AvailabilityZone ?? '',
    imageId: instance.ImageId ?? '',
    state: instance.State?.Name ?? '',
    nodeGroup,
    managed: tags.get(nodeGroupTypeTag) !== 'unmanaged',
    primaryInterfaceId: primary,
    ...labelsAndTaints(tags),
  };
}

function labelsAndTaints(
  tags: ReadonlyMap<string, string>,
): Pick<NodeInstance, 'labels' | 'taints'> {
  const labels: Record<string, string> = {};
  const taints: { key: string; value: string; effect: string }[] = [];
  for (const [key, value] of tags) {
    if (key.startsWith(labelTagPrefix)) labels[key.slice(labelTagPrefix.length)] = value;
    if (key.startsWith(taintTagPrefix)) {
      const split = value.lastIndexOf(':');
      taints.push({
        key: key.slice(taintTagPrefix.length),
        value: value.slice(0, split),
        effect: value.slice(split + 1),
      });
    }
  }
  return { labels, taints };
}

/** The cluster's node instances that are pending or running. */
export async function nodeInstances(ec2: EC2Client, clusterName: string): Promise<NodeInstance[]> {
  const found: NodeInstance[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: `tag:${clusterNameTag}`, Values: [clusterName] },
          { Name: 'instance-state-name', Values: ['pending', 'running'] },
        ],
        NextToken: nextToken,
      }),
    );
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        const node = nodeInstanceOf(instance);
        if (node) found.push(node);
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return found;
}

/** The subnets nodes go to: the cluster's public subnets in zone order, as eksctl's default. */
export async function nodeSubnets(ec2: EC2Client, subnetIds: readonly string[]): Promise<string[]> {
  const { Subnets = [] } = await ec2.send(
    new DescribeSubnetsCommand({ SubnetIds: [...subnetIds] }),
  );
  return Subnets.filter((subnet) => subnet.MapPublicIpOnLaunch === true)
    .sort((a, b) => (a.AvailabilityZone ?? '').localeCompare(b.AvailabilityZone ?? ''))
    .map((subnet) => subnet.SubnetId ?? '');
}

/** Launches what the group lacks up to its desired capacity; returns the new instance ids. */
export async function scaleNodeGroup(
  ec2: EC2Client,
  placement: ClusterPlacement,
  group: NodeGroupConfig,
): Promise<string[]> {
  const existing = (await nodeInstances(ec2, placement.clusterName)).filter(
    (node) => node.nodeGroup === group.name,
  );
  const subnets = await nodeSubnets(ec2, placement.subnetIds);
  const launched: string[] = [];
  for (let index = existing.length; index < group.desiredCapacity; index += 1) {
    const subnetId = subnets[index % subnets.length];
    const { Instances = [] } = await ec2.send(
      new RunInstancesCommand({
        ImageId: eksOptimizedImageId,
        InstanceType: group.instanceType as never,
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnetId,
        SecurityGroupIds: [placement.clusterSecurityGroupId],
        ...(placement.instanceProfileName
          ? { IamInstanceProfile: { Name: placement.instanceProfileName } }
          : {}),
        TagSpecifications: [
          { ResourceType: 'instance', Tags: groupTags(placement.clusterName, group) },
          {
            ResourceType: 'network-interface',
            Tags: [
              { Key: clusterNameTag, Value: placement.clusterName },
              { Key: nodeGroupNameTag, Value: group.name },
            ],
          },
        ],
      }),
    );
    launched.push(...Instances.map((instance) => instance.InstanceId ?? ''));
  }
  return launched;
}

/** Terminates the group's instances; returns their ids. */
export async function deleteNodeGroup(
  ec2: EC2Client,
  clusterName: string,
  groupName: string,
): Promise<string[]> {
  const ids = (await nodeInstances(ec2, clusterName))
    .filter((node) => node.nodeGroup === groupName)
    .map((node) => node.instanceId);
  if (ids.length > 0) await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
  return ids;
}
