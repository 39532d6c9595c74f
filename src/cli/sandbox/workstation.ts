/**
 * The sandbox's workstation: one EC2 instance in the cluster's VPC standing for the workshop's
 * Cloud9 environment, launched on first use and kept. It carries its own security group
 * (`sgpods-workstation`, all egress, no ingress), and the cluster security group admits that
 * group on 443 — as one admits a bastion to a private EKS endpoint — so kubectl and the aws CLI
 * reach the control plane and the AWS endpoints through the VPC, like every client in it.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  RunInstancesCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { sandboxImageId } from '../../servers/cloud/ec2/instance-types.js';
import { nodeSubnets } from '../../servers/kube/runtime/sandbox/node-groups.js';
import type { CloudSession } from './sandbox-session.js';

/** The tag that marks the workstation; its value is the cluster's name. */
export const workstationTag = 'sgpods:workstation';
export const workstationGroupName = 'sgpods-workstation';
export const workstationInstanceType = 't3.small';

export interface Workstation {
  readonly instanceId: string;
  readonly privateIp: string;
  readonly state: string;
}

function workstationOf(instance: Instance): Workstation {
  return {
    instanceId: instance.InstanceId ?? '',
    privateIp: instance.PrivateIpAddress ?? '',
    state: instance.State?.Name ?? '',
  };
}

/** The cluster's workstation if one is pending or running. */
export async function findWorkstation(
  ec2: EC2Client,
  clusterName: string,
): Promise<Workstation | undefined> {
  const { Reservations = [] } = await ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: `tag:${workstationTag}`, Values: [clusterName] },
        { Name: 'instance-state-name', Values: ['pending', 'running'] },
      ],
    }),
  );
  const instance = Reservations.flatMap((reservation) => reservation.Instances ?? [])[0];
  return instance ? workstationOf(instance) : undefined;
}

async function ensureWorkstationGroup(session: CloudSession): Promise<string> {
  const { ec2, vpcId } = session;
  const { SecurityGroups = [] } = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'group-name', Values: [workstationGroupName] },
        { Name: 'vpc-id', Values: [vpcId] },
      ],
    }),
  );
  const existing = SecurityGroups[0]?.GroupId;
  if (existing) return existing;
  const { GroupId = '' } = await ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: workstationGroupName,
      Description: 'sgpods workstation (the workshop Cloud9)',
      VpcId: vpcId,
      TagSpecifications: [
        {
          ResourceType: 'security-group',
          Tags: [{ Key: workstationTag, Value: session.clusterName }],
        },
      ],
    }),
  );
  return GroupId;
}

/** The cluster group admits the workstation on 443: the API server and the AWS endpoints. */
async function admitToControlPlane(session: CloudSession, groupId: string): Promise<void> {
  try {
    await session.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: session.placement.clusterSecurityGroupId,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 443,
            ToPort: 443,
            UserIdGroupPairs: [
              { GroupId: groupId, Description: 'sgpods workstation to the EKS API and endpoints' },
            ],
          },
        ],
      }),
    );
  } catch (error) {
    if ((error as { name?: string }).name !== 'InvalidPermission.Duplicate') throw error;
  }
}

/** The workstation, launched in the cluster's first public subnet when there is none. */
export async function ensureWorkstation(session: CloudSession): Promise<Workstation> {
  const found = await findWorkstation(session.ec2, session.clusterName);
  if (found) return found;
  const groupId = await ensureWorkstationGroup(session);
  await admitToControlPlane(session, groupId);
  const [subnetId] = await nodeSubnets(session.ec2, session.placement.subnetIds);
  if (subnetId === undefined) throw new Error('the cluster VPC has no public subnet');
  const { Instances = [] } = await session.ec2.send(
    new RunInstancesCommand({
      ImageId: sandboxImageId,
      InstanceType: workstationInstanceType,
      MinCount: 1,
      MaxCount: 1,
      SubnetId: subnetId,
      SecurityGroupIds: [groupId],
      TagSpecifications: [
        {
          ResourceType: 'instance',
          Tags: [
            { Key: 'Name', Value: workstationGroupName },
            { Key: workstationTag, Value: session.clusterName },
          ],
        },
      ],
    }),
  );
  const [launched] = Instances;
  if (!launched) throw new Error('RunInstances returned no instance for the workstation');
  return workstationOf(launched);
}
