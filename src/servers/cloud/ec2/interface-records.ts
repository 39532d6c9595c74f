/**
 * What network interfaces share across actions: finding one (EC2's Malformed / NotFound errors),
 * validating its groups, allocating private addresses and MAC addresses, creating the record,
 * and rendering it as EC2 does in DescribeNetworkInterfaces and in an instance's interface set.
 */
import { Ec2RequestError } from '../../../core/errors.js';
import { instanceTypeLimits } from '../../../core/instance-types/instance-types.js';
import {
  cidrContains,
  nthAddress,
  parseCidr,
  parseIpAddress,
  type Cidr,
} from '../../../core/net/ip-address.js';
import { isResourceId } from '../../../core/sg/resource-ids.js';
import { defaultQuotas } from '../../../core/sg/quota.js';
import type { XmlValue } from '../query/ec2-xml.js';
import type {
  AttachmentRow,
  InterfaceType,
  NetworkInterfaceRow,
  PrivateAddressRow,
  TrunkAssociationRow,
} from '../state/compute-store.js';
import type { Ec2Store, SubnetRow, TagRow } from '../state/ec2-store.js';
import type { Ec2Context } from './ec2-context.js';
import { existingGroup } from './security-groups.js';
import { tagSetXml } from './tags.js';

export function malformedInterfaceId(id: string): Ec2RequestError {
  return new Ec2RequestError(
    'InvalidNetworkInterfaceID.Malformed',
    `Invalid id: "${id}" (expecting "eni-...")`,
  );
}

export function interfaceNotFound(id: string): Ec2RequestError {
  return new Ec2RequestError(
    'InvalidNetworkInterfaceID.NotFound',
    `The networkInterface ID '${id}' does not exist`,
  );
}

export function interfaceInUse(id: string): Ec2RequestError {
  return new Ec2RequestError(
    'InvalidParameterValue',
    `Network interface '${id}' is currently in use.`,
  );
}

export function existingInterface(store: Ec2Store, id: string): NetworkInterfaceRow {
  if (!isResourceId('networkInterface', id)) throw malformedInterfaceId(id);
  const row = store.compute.networkInterface(id);
  if (!row) throw interfaceNotFound(id);
  return row;
}

export function subnetCidrOf(subnet: SubnetRow): Cidr {
  const parsed = parseCidr(subnet.cidrBlock);
  if (!parsed) throw new RangeError(`subnet ${subnet.subnetId} has a bad CIDR`);
  return parsed.cidr;
}

/** Groups for an interface in `vpcId`: they must exist, be of that VPC, and be at most 5. */
export function interfaceGroups(
  store: Ec2Store,
  vpcId: string,
  subnetId: string,
  groupIds: readonly string[],
): string[] {
  const unique = [...new Set(groupIds)];
  for (const groupId of unique) {
    const group = existingGroup(store, groupId);
    if (group.vpcId !== vpcId) {
      throw new Ec2RequestError(
        'InvalidParameter',
        `Security group ${groupId} and subnet ${subnetId} belong to different networks.`,
      );
    }
  }
  if (unique.length > defaultQuotas.securityGroupsPerNetworkInterface) {
    throw new Ec2RequestError(
      'SecurityGroupsPerInterfaceLimitExceeded',
      'The maximum number of security groups per interface has been reached.',
    );
  }
  return unique;
}

/** The VPC's `default` group: what an interface gets when no group is named. */
export function defaultGroupOf(store: Ec2Store, vpcId: string): string {
  const group = store.groupByName(vpcId, 'default');
  if (!group) throw new RangeError(`VPC ${vpcId} has no default group`);
  return group.groupId;
}

/** AWS keeps the first four addresses and the last of every subnet. */
function isReserved(subnet: Cidr, value: bigint): boolean {
  const offset = value - subnet.network;
  const size = 2n ** BigInt(32 - subnet.prefixLength);
  return offset < 4n || offset === size - 1n;
}

/** Checks a requested private address: in the subnet, not reserved, not taken. */
export function checkRequestedAddress(store: Ec2Store, subnet: SubnetRow, text: string): string {
  const address = parseIpAddress(text);
  const cidr = subnetCidrOf(subnet);
  if (!address || address.family !== 4) {
    throw new Ec2RequestError('InvalidParameterValue', `Invalid value '${text}' for IP address`);
  }
  if (!cidrContains(cidr, address)) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Address ${address.text} does not fall within the subnet's address range`,
    );
  }
  if (isReserved(cidr, address.value)) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Address ${address.text} is in subnet's reserved address range`,
    );
  }
  if (store.compute.addressOwner(subnet.vpcId, address.text) !== undefined) {
    throw new Ec2RequestError('InvalidIPAddress.InUse', 'The specified address is already in use.');
  }
  return address.text;
}

/** A free address of the subnet, chosen at random as EC2 does; `taken` grows with it. */
export function allocateAddress(
  context: Ec2Context,
  subnet: SubnetRow,
  taken: Set<string>,
): string {
  const cidr = subnetCidrOf(subnet);
  const size = 2 ** (32 - cidr.prefixLength);
  const usable = size - 5;
  const inSubnet = [...taken].filter((text) => {
    const address = parseIpAddress(text);
    return address !== undefined && cidrContains(cidr, address);
  }).length;
  if (usable - inSubnet <= 0) {
    throw new Ec2RequestError(
      'InsufficientFreeAddressesInSubnet',
      `There are not enough free addresses in subnet '${subnet.subnetId}' to satisfy the requested number of instances.`,
    );
  }
  const pick = (offset: number): string | undefined => {
    const text = nthAddress(cidr, offset).text;
    return taken.has(text) ? undefined : text;
  };
  for (let attempt = 0; attempt < 64; attempt++) {
    const bytes = context.randomBytes(4);
    const random = ((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8);
    const offset = 4 + (((random >>> 0) + (bytes[3] ?? 0)) % usable);
    const text = pick(offset);
    if (text) {
      taken.add(text);
      return text;
    }
  }
  for (let offset = 4; offset < size - 1; offset++) {
    const text = pick(offset);
    if (text) {
      taken.add(text);
      return text;
    }
  }
  throw new RangeError('no free address although the count said there was one');
}

/** A locally administered unicast MAC, unique among the account's interfaces. */
export function newMacAddress(context: Ec2Context): string {
  for (;;) {
    const bytes = Array.from(context.randomBytes(6));
    bytes[0] = ((bytes[0] ?? 0) & 0xfc) | 0x02;
    const mac = bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':');
    if (!context.store.compute.macInUse(mac)) return mac;
  }
}

/** `ip-192-168-1-10.us-west-2.compute.internal` (`ec2.internal` in us-east-1). */
export function privateDnsNameOf(region: string, address: string): string {
  const host = `ip-${address.replaceAll('.', '-')}`;
  return region === 'us-east-1' ? `${host}.ec2.internal` : `${host}.${region}.compute.internal`;
}

export interface NewInterface {
  readonly subnet: SubnetRow;
  readonly description: string;
  readonly groupIds: readonly string[];
  readonly interfaceType: InterfaceType;
  readonly privateIps: readonly string[];
  readonly secondaryCount: number;
  readonly requesterManaged?: boolean;
}

/** Inserts an interface with its groups and addresses (checked beforehand by the caller). */
export function insertInterface(context: Ec2Context, spec: NewInterface): NetworkInterfaceRow {
  const { compute } = context.store;
  const row: NetworkInterfaceRow = {
    networkInterfaceId: context.newId('networkInterface'),
    subnetId: spec.subnet.subnetId,
    vpcId: spec.subnet.vpcId,
    availabilityZone: spec.subnet.availabilityZone,
    description: spec.description,
    interfaceType: spec.interfaceType,
    macAddress: newMacAddress(context),
    sourceDestCheck: true,
    requesterManaged: spec.requesterManaged ?? false,
    ownerId: context.accountId,
  };
  compute.insertNetworkInterface(row);
  compute.setGroups(row.networkInterfaceId, spec.groupIds);
  const taken = compute.addressesIn(spec.subnet.vpcId);
  const addresses = [...spec.privateIps];
  // Without a given address the primary is picked too; the bound is fixed before the loop grows the list.
  const toPick = spec.secondaryCount + (addresses.length === 0 ? 1 : 0);
  for (let index = 0; index < toPick; index++) {
    addresses.push(allocateAddress(context, spec.subnet, taken));
  }
  addresses.forEach((address, index) => {
    compute.addAddress(spec.subnet.vpcId, row.networkInterfaceId, address, index === 0);
  });
  return row;
}

/** The most private IPv4 addresses an interface of an instance of this type may hold. */
export function addressLimitOf(instanceType: string): number {
  return instanceTypeLimits(instanceType)?.ipv4PerEni ?? 50;
}

/** Everything needed to render interfaces, read once per call. */
export interface InterfaceLookups {
  readonly groupsOf: (id: string) => readonly string[];
  readonly groupName: (groupId: string) => string;
  readonly addressesOf: (id: string) => readonly PrivateAddressRow[];
  readonly attachmentOf: (id: string) => AttachmentRow | undefined;
  readonly associationOf: (id: string) => TrunkAssociationRow | undefined;
  readonly trunkAssociationsOf: (id: string) => readonly TrunkAssociationRow[];
  readonly tagsOf: (id: string) => readonly TagRow[];
}

export function interfaceLookups(store: Ec2Store): InterfaceLookups {
  const groups = store.compute.interfaceGroups();
  const names = new Map(store.groups().map((group) => [group.groupId, group.groupName]));
  const addresses = store.compute.addresses();
  const attachments = new Map(
    store.compute.attachments().map((row) => [row.networkInterfaceId, row]),
  );
  const associations = store.compute.trunkAssociations();
  const byBranch = new Map(associations.map((row) => [row.branchInterfaceId, row]));
  const byTrunk = new Map<string, TrunkAssociationRow[]>();
  for (const row of associations) {
    byTrunk.set(row.trunkInterfaceId, [...(byTrunk.get(row.trunkInterfaceId) ?? []), row]);
  }
  const tags = new Map<string, TagRow[]>();
  for (const tag of store.tags()) {
    tags.set(tag.resourceId, [...(tags.get(tag.resourceId) ?? []), tag]);
  }
  return {
    groupsOf: (id) => groups.get(id) ?? [],
    groupName: (groupId) => names.get(groupId) ?? '',
    addressesOf: (id) => addresses.get(id) ?? [],
    attachmentOf: (id) => attachments.get(id),
    associationOf: (id) => byBranch.get(id),
    trunkAssociationsOf: (id) => byTrunk.get(id) ?? [],
    tagsOf: (id) => tags.get(id) ?? [],
  };
}

/** `in-use` while attached to an instance or associated with a trunk. */
export function interfaceStatus(row: NetworkInterfaceRow, lookups: InterfaceLookups): string {
  const id = row.networkInterfaceId;
  return lookups.attachmentOf(id) || lookups.associationOf(id) ? 'in-use' : 'available';
}

/** The type EC2 reports: an interface associated with a trunk is a `branch`. */
export function reportedInterfaceType(
  row: NetworkInterfaceRow,
  lookups: InterfaceLookups,
): InterfaceType {
  return lookups.associationOf(row.networkInterfaceId) ? 'branch' : row.interfaceType;
}

export function groupSetXml(groupIds: readonly string[], lookups: InterfaceLookups): XmlValue {
  return groupIds.map((groupId) => ({ groupId, groupName: lookups.groupName(groupId) }));
}

export function attachmentXml(
  attachment: AttachmentRow | undefined,
  context: Ec2Context,
): XmlValue {
  if (!attachment) return undefined;
  return {
    attachmentId: attachment.attachmentId,
    instanceId: attachment.instanceId,
    instanceOwnerId: context.accountId,
    deviceIndex: attachment.deviceIndex,
    networkCardIndex: attachment.networkCardIndex,
    status: 'attached',
    attachTime: attachment.attachTime,
    deleteOnTermination: attachment.deleteOnTermination,
  };
}

export function interfaceXml(
  row: NetworkInterfaceRow,
  lookups: InterfaceLookups,
  context: Ec2Context,
): Record<string, XmlValue> {
  const id = row.networkInterfaceId;
  const addresses = lookups.addressesOf(id);
  const primary = addresses.find((address) => address.primary)?.address ?? '';
  return {
    networkInterfaceId: id,
    subnetId: row.subnetId,
    vpcId: row.vpcId,
    availabilityZone: row.availabilityZone,
    description: row.description,
    ownerId: row.ownerId,
    requesterManaged: row.requesterManaged,
    status: interfaceStatus(row, lookups),
    macAddress: row.macAddress,
    privateIpAddress: primary,
    privateDnsName: privateDnsNameOf(context.region, primary),
    sourceDestCheck: row.sourceDestCheck,
    groupSet: groupSetXml(lookups.groupsOf(id), lookups),
    attachment: attachmentXml(lookups.attachmentOf(id), context),
    tagSet: tagSetXml(lookups.tagsOf(id)),
    privateIpAddressesSet: addresses.map((address) => ({
      privateIpAddress: address.address,
      privateDnsName: privateDnsNameOf(context.region, address.address),
      primary: address.primary,
    })),
    ipv6AddressesSet: [],
    interfaceType: reportedInterfaceType(row, lookups),
  };
}
