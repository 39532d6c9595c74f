/**
 * What exists before the first call: the cluster VPC as eksctl creates it (192.168.0.0/16,
 * a public and a private /19 in each of three zones, eksctl's tags), the VPC's `default` group
 * and the EKS cluster security group. Runs once per home, in one transaction.
 */
import { defaultGroupRules } from '../../../core/sg/security-group.js';
import { availabilityZonesOf } from './availability-zones.js';
import type { Ec2Context } from './ec2-context.js';
import { insertGroup } from './security-groups.js';
import { applyTags, type Tag } from './tags.js';

export const vpcCidr = '192.168.0.0/16';

export interface ClusterNetwork {
  readonly vpcId: string;
  readonly clusterSecurityGroupId: string;
  readonly defaultSecurityGroupId: string;
  readonly publicSubnetIds: readonly string[];
  readonly privateSubnetIds: readonly string[];
}

/** eksctl's stack tags on everything of the cluster stack. */
function stackTags(clusterName: string, name: string): Tag[] {
  return [
    { key: 'Name', value: name },
    { key: 'alpha.eksctl.io/cluster-name', value: clusterName },
    { key: 'eksctl.cluster.k8s.io/v1alpha1/cluster-name', value: clusterName },
    { key: 'aws:cloudformation:stack-name', value: `eksctl-${clusterName}-cluster` },
  ];
}

/** A number standing in for the random suffix EKS gives `eks-cluster-sg-<cluster>-<n>`. */
function clusterGroupSuffix(vpcId: string): string {
  return String(Number.parseInt(vpcId.slice(-8), 16) % 10 ** 10).padStart(10, '1');
}

export function bootstrapClusterNetwork(context: Ec2Context, clusterName: string): ClusterNetwork {
  const { store, accountId } = context;
  const vpcId = context.newId('vpc');
  store.insertVpc({
    vpcId,
    cidrBlock: vpcCidr,
    associationId: context.newId('vpcCidrAssociation'),
    dhcpOptionsId: context.newId('dhcpOptions'),
    isDefault: false,
    ownerId: accountId,
  });
  applyTags(store, vpcId, stackTags(clusterName, `eksctl-${clusterName}-cluster/VPC`), true);

  const zones = availabilityZonesOf(context.region).slice(0, 3);
  const publicSubnetIds: string[] = [];
  const privateSubnetIds: string[] = [];
  for (const [kind, offset, ids] of [
    ['Public', 0, publicSubnetIds],
    ['Private', 3, privateSubnetIds],
  ] as const) {
    zones.forEach((zone, index) => {
      const subnetId = context.newId('subnet');
      store.insertSubnet({
        subnetId,
        vpcId,
        cidrBlock: `192.168.${(offset + index) * 32}.0/19`,
        availabilityZone: zone.zoneName,
        availabilityZoneId: zone.zoneId,
        mapPublicIpOnLaunch: kind === 'Public',
        ownerId: accountId,
      });
      const zoneTag = zone.zoneName.toUpperCase().replace(/-/g, '');
      applyTags(
        store,
        subnetId,
        [
          ...stackTags(clusterName, `eksctl-${clusterName}-cluster/Subnet${kind}${zoneTag}`),
          kind === 'Public'
            ? { key: 'kubernetes.io/role/elb', value: '1' }
            : { key: 'kubernetes.io/role/internal-elb', value: '1' },
        ],
        true,
      );
      ids.push(subnetId);
    });
  }

  const defaultSecurityGroupId = context.newId('securityGroup');
  insertGroup(
    context,
    {
      groupId: defaultSecurityGroupId,
      vpcId,
      groupName: 'default',
      description: 'default VPC security group',
      ownerId: accountId,
    },
    defaultGroupRules(defaultSecurityGroupId, false),
  );

  const clusterSecurityGroupId = context.newId('securityGroup');
  const clusterGroupName = `eks-cluster-sg-${clusterName}-${clusterGroupSuffix(vpcId)}`;
  insertGroup(
    context,
    {
      groupId: clusterSecurityGroupId,
      vpcId,
      groupName: clusterGroupName,
      description:
        'EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads.',
      ownerId: accountId,
    },
    defaultGroupRules(clusterSecurityGroupId, false),
  );
  applyTags(
    store,
    clusterSecurityGroupId,
    [
      { key: 'Name', value: clusterGroupName },
      { key: `kubernetes.io/cluster/${clusterName}`, value: 'owned' },
      { key: 'aws:eks:cluster-name', value: clusterName },
    ],
    true,
  );
  return {
    vpcId,
    clusterSecurityGroupId,
    defaultSecurityGroupId,
    publicSubnetIds,
    privateSubnetIds,
  };
}
