/** DescribeVpcs and DescribeSubnets: the cluster VPC and its subnets, with EC2's filters. */
import { Ec2RequestError } from '../../../core/errors.js';
import { parseCidr } from '../../../core/net/ip-address.js';
import type { XmlValue } from '../query/ec2-xml.js';
import type { QueryParams } from '../query/query-params.js';
import type { Ec2Store, SubnetRow, VpcRow } from '../state/ec2-store.js';
import { arnOf, type Ec2Context } from './ec2-context.js';
import { applyFilters, tagIndex, type FilterFields } from './filters.js';
import { paginate } from './pagination.js';
import { tagSetXml } from './tags.js';

const vpcFilterFields: FilterFields<VpcRow> = {
  'vpc-id': (vpc) => vpc.vpcId,
  cidr: (vpc) => vpc.cidrBlock,
  'cidr-block-association.cidr-block': (vpc) => vpc.cidrBlock,
  'cidr-block-association.association-id': (vpc) => vpc.associationId,
  'cidr-block-association.state': () => 'associated',
  'dhcp-options-id': (vpc) => vpc.dhcpOptionsId,
  'is-default': (vpc) => vpc.isDefault,
  'owner-id': (vpc) => vpc.ownerId,
  state: () => 'available',
};

export function describeVpcs(params: QueryParams, context: Ec2Context): Record<string, XmlValue> {
  const vpcs = context.store.vpcs();
  const ids = params.list('VpcId');
  for (const id of ids) {
    if (!vpcs.some((vpc) => vpc.vpcId === id)) {
      throw new Ec2RequestError('InvalidVpcID.NotFound', `The vpc ID '${id}' does not exist`);
    }
  }
  const tags = tagIndex(context.store.tags());
  const selected = applyFilters(
    vpcs.filter((vpc) => ids.length === 0 || ids.includes(vpc.vpcId)),
    params.filters(),
    vpcFilterFields,
    (vpc) => tags(vpc.vpcId),
  );
  const page = paginate(selected, params, { min: 5, max: 1000 });
  return {
    vpcSet: page.items.map((vpc) => ({
      vpcId: vpc.vpcId,
      ownerId: vpc.ownerId,
      state: 'available',
      cidrBlock: vpc.cidrBlock,
      cidrBlockAssociationSet: [
        {
          associationId: vpc.associationId,
          cidrBlock: vpc.cidrBlock,
          cidrBlockState: { state: 'associated' },
        },
      ],
      dhcpOptionsId: vpc.dhcpOptionsId,
      tagSet: tagSetXml(tags(vpc.vpcId)),
      instanceTenancy: 'default',
      isDefault: vpc.isDefault,
    })),
    nextToken: page.nextToken,
  };
}

/** The subnet `id` names, or EC2's NotFound error. */
export function existingSubnet(store: Ec2Store, id: string): SubnetRow {
  const subnet = store.subnets().find((candidate) => candidate.subnetId === id);
  if (!subnet) {
    throw new Ec2RequestError('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`);
  }
  return subnet;
}

/** Free addresses: the block minus the five AWS reserves in every subnet and those in use. */
function availableAddresses(cidrBlock: string, used: number): number {
  const parsed = parseCidr(cidrBlock);
  if (!parsed) return 0;
  return 2 ** (32 - parsed.cidr.prefixLength) - 5 - used;
}

/** Private addresses in use per subnet (every address of every interface in it). */
function usedAddressesBySubnet(context: Ec2Context): Map<string, number> {
  const { compute } = context.store;
  const addresses = compute.addresses();
  const used = new Map<string, number>();
  for (const row of compute.networkInterfaces()) {
    const count = addresses.get(row.networkInterfaceId)?.length ?? 0;
    used.set(row.subnetId, (used.get(row.subnetId) ?? 0) + count);
  }
  return used;
}

const subnetFilterFields: FilterFields<SubnetRow> = {
  'subnet-id': (subnet) => subnet.subnetId,
  'vpc-id': (subnet) => subnet.vpcId,
  'availability-zone': (subnet) => subnet.availabilityZone,
  'availability-zone-id': (subnet) => subnet.availabilityZoneId,
  'cidr-block': (subnet) => subnet.cidrBlock,
  cidr: (subnet) => subnet.cidrBlock,
  cidrBlock: (subnet) => subnet.cidrBlock,
  'default-for-az': () => false,
  'map-public-ip-on-launch': (subnet) => subnet.mapPublicIpOnLaunch,
  'owner-id': (subnet) => subnet.ownerId,
  state: () => 'available',
};

export function describeSubnets(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const subnets = context.store.subnets();
  const ids = params.list('SubnetId');
  for (const id of ids) existingSubnet(context.store, id);
  const tags = tagIndex(context.store.tags());
  const selected = applyFilters(
    subnets.filter((subnet) => ids.length === 0 || ids.includes(subnet.subnetId)),
    params.filters(),
    subnetFilterFields,
    (subnet) => tags(subnet.subnetId),
  );
  const page = paginate(selected, params, { min: 5, max: 1000 });
  const used = usedAddressesBySubnet(context);
  return {
    subnetSet: page.items.map((subnet) => ({
      subnetId: subnet.subnetId,
      subnetArn: arnOf(context, 'subnet', subnet.subnetId),
      state: 'available',
      ownerId: subnet.ownerId,
      vpcId: subnet.vpcId,
      cidrBlock: subnet.cidrBlock,
      ipv6CidrBlockAssociationSet: [],
      availableIpAddressCount: availableAddresses(subnet.cidrBlock, used.get(subnet.subnetId) ?? 0),
      availabilityZone: subnet.availabilityZone,
      availabilityZoneId: subnet.availabilityZoneId,
      defaultForAz: false,
      mapPublicIpOnLaunch: subnet.mapPublicIpOnLaunch,
      assignIpv6AddressOnCreation: false,
      tagSet: tagSetXml(tags(subnet.subnetId)),
    })),
    nextToken: page.nextToken,
  };
}
