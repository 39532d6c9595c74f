/**
 * The EC2 call sequences of trunk and branch ENIs, as upstream makes them (rc.md §4.3, §4.6,
 * §5.2): an instance's network facts; a trunk made, permitted, attached at the highest free
 * device index with DeleteOnTermination and waited for; a branch made with its tags, permitted
 * and associated with the trunk on its VLAN; a branch disassociated and deleted (gone = done);
 * a trunk's branches listed back from their tags; a branch's groups replaced in place.
 */
import {
  AssociateTrunkInterfaceCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateNetworkInterfacePermissionCommand,
  DeleteNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  DescribeTrunkInterfaceAssociationsCommand,
  DetachNetworkInterfaceCommand,
  DisassociateTrunkInterfaceCommand,
  ModifyNetworkInterfaceAttributeCommand,
  type AssociateTrunkInterfaceCommandOutput,
  type AttachNetworkInterfaceCommandOutput,
  type CreateNetworkInterfaceCommandOutput,
  type DescribeInstancesCommandOutput,
  type DescribeNetworkInterfacesCommandOutput,
  type DescribeSubnetsCommandOutput,
  type DescribeTrunkInterfaceAssociationsCommandOutput,
  type Filter,
  type InstanceNetworkInterface,
  type NetworkInterface,
  type Tag,
} from '@aws-sdk/client-ec2';
import {
  branchEniDescription,
  branchEniTags,
  controllerEniOwner,
} from '../core/controller/branch-eni.js';
import type { BranchEniDetails } from '../core/policy/pod-eni-annotation.js';
import { awsErrorCode, type Ec2Gateway } from './ec2-gateway.js';

export const trunkEniDescription = 'aws-k8s-trunk-eni';
export const vlanTag = 'vpcresources.k8s.aws/vlan-id';
export const trunkTag = 'vpcresources.k8s.aws/trunk-eni-id';
export const instanceTag = 'node.k8s.amazonaws.com/instance_id';

export interface InstanceInterface {
  readonly networkInterfaceId: string;
  readonly interfaceType: string;
  readonly deviceIndex: number;
  readonly attachmentStatus: string;
}

export interface InstanceNetwork {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly accountId: string;
  readonly subnetId: string;
  readonly subnetCidr: string;
  readonly subnetV6Cidr: string;
  /** The primary ENI's groups: what a pod gets without a policy (upstream's instance groups). */
  readonly instanceGroups: readonly string[];
  readonly interfaces: readonly InstanceInterface[];
}

export interface BranchInEc2 {
  readonly details: BranchEniDetails;
  readonly groups: readonly string[];
  readonly status: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function describeInstanceNetwork(
  gateway: Ec2Gateway,
  instanceId: string,
): Promise<InstanceNetwork> {
  const answer = await gateway.send<DescribeInstancesCommandOutput>(
    new DescribeInstancesCommand({ InstanceIds: [instanceId] }),
  );
  const reservation = answer.Reservations?.[0];
  const instance = reservation?.Instances?.[0];
  if (!instance) throw new Error(`instance ${instanceId} not found`);
  const interfaces = instance.NetworkInterfaces ?? [];
  const primary =
    interfaces.find((each) => each.PrivateIpAddress === instance.PrivateIpAddress) ??
    interfaces.find((each) => each.Attachment?.DeviceIndex === 0);
  const subnetId = instance.SubnetId ?? '';
  return {
    instanceId,
    instanceType: instance.InstanceType ?? '',
    accountId: reservation.OwnerId ?? '',
    subnetId,
    ...(await subnetCidrs(gateway, subnetId)),
    instanceGroups: (primary?.Groups ?? []).map((group) => group.GroupId ?? ''),
    interfaces: interfaces.map(instanceInterfaceOf),
  };
}

function instanceInterfaceOf(each: InstanceNetworkInterface): InstanceInterface {
  return {
    networkInterfaceId: each.NetworkInterfaceId ?? '',
    interfaceType: each.InterfaceType ?? 'interface',
    deviceIndex: each.Attachment?.DeviceIndex ?? -1,
    attachmentStatus: each.Attachment?.Status ?? '',
  };
}

async function subnetCidrs(
  gateway: Ec2Gateway,
  subnetId: string,
): Promise<{ subnetCidr: string; subnetV6Cidr: string }> {
  const subnets = await gateway.send<DescribeSubnetsCommandOutput>(
    new DescribeSubnetsCommand({ SubnetIds: [subnetId] }),
  );
  const subnet = subnets.Subnets?.[0];
  return {
    subnetCidr: subnet?.CidrBlock ?? '',
    subnetV6Cidr: subnet?.Ipv6CidrBlockAssociationSet?.[0]?.Ipv6CidrBlock ?? '',
  };
}

/** Upstream's choice: the highest device index the instance type leaves free. */
export function highestFreeDeviceIndex(
  interfaces: readonly InstanceInterface[],
  maxInterfaces: number,
): number | undefined {
  const used = new Set(interfaces.map((each) => each.deviceIndex));
  for (let index = maxInterfaces - 1; index >= 1; index -= 1) if (!used.has(index)) return index;
  return undefined;
}

async function interfaceOf(gateway: Ec2Gateway, eniId: string): Promise<NetworkInterface> {
  const answer = await gateway.send<DescribeNetworkInterfacesCommandOutput>(
    new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }),
  );
  const found = answer.NetworkInterfaces?.[0];
  if (!found) throw new Error(`network interface ${eniId} not found`);
  return found;
}

/** Polls until the interface is attached (1 s, doubling, for about two minutes at most). */
export async function waitAttached(gateway: Ec2Gateway, eniId: string): Promise<void> {
  let delay = 250;
  for (let waited = 0; waited < 120_000; waited += delay, delay = Math.min(delay * 2, 8_000)) {
    const status = (await interfaceOf(gateway, eniId)).Attachment?.Status;
    if (status === 'attached') return;
    await sleep(delay);
  }
  throw new Error(`network interface ${eniId} did not attach`);
}

function ownerTags(instanceId: string, clusterName: string): Tag[] {
  return [
    { Key: instanceTag, Value: instanceId },
    { Key: 'eks:eni:owner', Value: controllerEniOwner },
    { Key: `kubernetes.io/cluster/${clusterName}`, Value: 'owned' },
  ];
}

/** Makes the instance's trunk; a step that fails undoes the ones before it. */
export async function createTrunk(
  gateway: Ec2Gateway,
  instance: InstanceNetwork,
  input: { clusterName: string; deviceIndex: number },
): Promise<string> {
  const created = await gateway.send<CreateNetworkInterfaceCommandOutput>(
    new CreateNetworkInterfaceCommand({
      Description: trunkEniDescription,
      InterfaceType: 'trunk',
      SubnetId: instance.subnetId,
      Groups: [...instance.instanceGroups],
      TagSpecifications: [
        {
          ResourceType: 'network-interface',
          Tags: ownerTags(instance.instanceId, input.clusterName),
        },
      ],
    }),
  );
  const trunkId = created.NetworkInterface?.NetworkInterfaceId ?? '';
  let attachmentId: string | undefined;
  try {
    await gateway.send(
      new CreateNetworkInterfacePermissionCommand({
        NetworkInterfaceId: trunkId,
        Permission: 'INSTANCE-ATTACH',
        AwsAccountId: instance.accountId,
      }),
    );
    const attached = await gateway.send<AttachNetworkInterfaceCommandOutput>(
      new AttachNetworkInterfaceCommand({
        DeviceIndex: input.deviceIndex,
        InstanceId: instance.instanceId,
        NetworkInterfaceId: trunkId,
      }),
    );
    attachmentId = attached.AttachmentId;
    await gateway.send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: trunkId,
        Attachment: { AttachmentId: attachmentId, DeleteOnTermination: true },
      }),
    );
    await waitAttached(gateway, trunkId);
    return trunkId;
  } catch (error) {
    await undoTrunk(gateway, trunkId, attachmentId);
    throw error;
  }
}

async function undoTrunk(gateway: Ec2Gateway, trunkId: string, attachmentId?: string) {
  try {
    if (attachmentId) {
      await gateway.send(
        new DetachNetworkInterfaceCommand({ AttachmentId: attachmentId, Force: true }),
      );
      for (let tries = 0; tries < 60; tries += 1) {
        if ((await interfaceOf(gateway, trunkId)).Status === 'available') break;
        await sleep(500);
      }
    }
    await gateway.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: trunkId }));
  } catch {
    // Left for the leak collector: it is tagged with the instance and the owner.
  }
}

export interface BranchRequest {
  readonly trunkId: string;
  readonly vlanId: number;
  readonly groups: readonly string[];
  readonly instance: InstanceNetwork;
  readonly clusterName: string;
}

/** A failed branch allocation, with the ENI made before the failure (to delete). */
export class BranchAllocationError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly created: BranchEniDetails | undefined,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'BranchAllocationError';
  }
}

function branchDetailsOf(eni: NetworkInterface, request: BranchRequest): BranchEniDetails {
  return {
    eniId: eni.NetworkInterfaceId ?? '',
    ifAddress: eni.MacAddress ?? '',
    privateIp: eni.PrivateIpAddress ?? '',
    ipv6Addr: eni.Ipv6Address ?? eni.Ipv6Addresses?.[0]?.Ipv6Address ?? '',
    vlanId: request.vlanId,
    subnetCidr: request.instance.subnetCidr,
    subnetV6Cidr: request.instance.subnetV6Cidr,
    associationID: '',
  };
}

/** CreateNetworkInterface, CreateNetworkInterfacePermission, AssociateTrunkInterface. */
export async function createBranch(
  gateway: Ec2Gateway,
  request: BranchRequest,
): Promise<BranchEniDetails> {
  const { instance } = request;
  let details: BranchEniDetails | undefined;
  try {
    const created = await gateway.send<CreateNetworkInterfaceCommandOutput>(
      new CreateNetworkInterfaceCommand({
        Description: branchEniDescription,
        SubnetId: instance.subnetId,
        ...(request.groups.length > 0 ? { Groups: [...request.groups] } : {}),
        TagSpecifications: [
          {
            ResourceType: 'network-interface',
            Tags: branchEniTags({
              vlanId: request.vlanId,
              trunkEniId: request.trunkId,
              instanceId: instance.instanceId,
              clusterName: request.clusterName,
            }),
          },
        ],
      }),
    );
    details = branchDetailsOf(created.NetworkInterface ?? {}, request);
    await gateway.send(
      new CreateNetworkInterfacePermissionCommand({
        NetworkInterfaceId: details.eniId,
        Permission: 'INSTANCE-ATTACH',
        AwsAccountId: instance.accountId,
      }),
    );
    const associated = await gateway.send<AssociateTrunkInterfaceCommandOutput>(
      new AssociateTrunkInterfaceCommand({
        BranchInterfaceId: details.eniId,
        TrunkInterfaceId: request.trunkId,
        VlanId: request.vlanId,
      }),
    );
    const associationID = associated.InterfaceAssociation?.AssociationId;
    if (!associationID) throw new Error('AssociateTrunkInterface returned no association ID');
    return { ...details, associationID };
  } catch (error) {
    throw new BranchAllocationError(error, details);
  }
}

/**
 * Disassociates (failures tolerated: the delete tells) and deletes a branch ENI, retrying the
 * delete a few times; an ENI that is already gone counts as deleted.
 */
export async function deleteBranch(gateway: Ec2Gateway, eni: BranchEniDetails): Promise<void> {
  if (eni.associationID) {
    await gateway
      .send(new DisassociateTrunkInterfaceCommand({ AssociationId: eni.associationID }))
      .catch(() => undefined);
  }
  let delay = 100;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await gateway.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni.eniId }));
      return;
    } catch (error) {
      if (awsErrorCode(error) === 'InvalidNetworkInterfaceID.NotFound') return;
      if (attempt >= 4) throw error;
      await sleep(delay * (1 + Math.random() * 0.1));
      delay = Math.min(delay * 3, 10_000);
    }
  }
}

async function describeAll(gateway: Ec2Gateway, filters: Filter[]): Promise<NetworkInterface[]> {
  const found: NetworkInterface[] = [];
  let token: string | undefined;
  do {
    const page = await gateway.send<DescribeNetworkInterfacesCommandOutput>(
      new DescribeNetworkInterfacesCommand({
        Filters: filters,
        MaxResults: 1000,
        ...(token ? { NextToken: token } : {}),
      }),
    );
    found.push(...(page.NetworkInterfaces ?? []));
    token = page.NextToken;
  } while (token);
  return found;
}

const tagValue = (eni: NetworkInterface, key: string) =>
  eni.TagSet?.find((tag) => tag.Key === key)?.Value;

/** The branch ENIs EC2 holds for a trunk (by tag) in the node's subnet, VLANs from their tags. */
export async function branchesOfTrunk(
  gateway: Ec2Gateway,
  trunkId: string,
  instance: InstanceNetwork,
): Promise<BranchInEc2[]> {
  const found = await describeAll(gateway, [
    { Name: `tag:${trunkTag}`, Values: [trunkId] },
    { Name: 'subnet-id', Values: [instance.subnetId] },
  ]);
  const associations = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await gateway.send<DescribeTrunkInterfaceAssociationsCommandOutput>(
      new DescribeTrunkInterfaceAssociationsCommand({
        Filters: [{ Name: 'trunk-interface-association.trunk-interface-id', Values: [trunkId] }],
        MaxResults: 255,
        ...(token ? { NextToken: token } : {}),
      }),
    );
    for (const association of page.InterfaceAssociations ?? [])
      associations.set(association.BranchInterfaceId ?? '', association.AssociationId ?? '');
    token = page.NextToken;
  } while (token);
  return found.map((eni) => ({
    details: {
      eniId: eni.NetworkInterfaceId ?? '',
      ifAddress: eni.MacAddress ?? '',
      privateIp: eni.PrivateIpAddress ?? '',
      ipv6Addr: eni.Ipv6Address ?? '',
      vlanId: Number(tagValue(eni, vlanTag) ?? 0),
      subnetCidr: instance.subnetCidr,
      subnetV6Cidr: instance.subnetV6Cidr,
      associationID: associations.get(eni.NetworkInterfaceId ?? '') ?? '',
    },
    groups: (eni.Groups ?? []).map((group) => group.GroupId ?? ''),
    status: eni.Status ?? '',
  }));
}

/** Available ENIs owned by the controller or the VPC CNI in the VPC, narrowed by `filters`. */
export async function availableOwnedEnis(
  gateway: Ec2Gateway,
  vpcId: string,
  filters: Filter[],
): Promise<string[]> {
  const found = await describeAll(gateway, [
    { Name: 'status', Values: ['available'] },
    { Name: 'tag:eks:eni:owner', Values: [controllerEniOwner, 'amazon-vpc-cni'] },
    { Name: 'vpc-id', Values: [vpcId] },
    ...filters,
  ]);
  return found.map((eni) => eni.NetworkInterfaceId ?? '');
}

export async function deleteInterface(gateway: Ec2Gateway, eniId: string): Promise<void> {
  try {
    await gateway.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eniId }));
  } catch (error) {
    if (awsErrorCode(error) !== 'InvalidNetworkInterfaceID.NotFound') throw error;
  }
}

/** Replaces a branch ENI's groups (live policy). */
export async function replaceGroups(
  gateway: Ec2Gateway,
  eniId: string,
  groups: readonly string[],
): Promise<void> {
  await gateway.send(
    new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Groups: [...groups] }),
  );
}
