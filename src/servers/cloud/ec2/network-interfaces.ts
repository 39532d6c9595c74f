/**
 * Network interfaces: create, delete, describe, attach, detach, modify (groups are enforced
 * before the call returns), secondary private addresses, and permissions. Texts of errors EC2
 * documents without wording are ours (docs/errors.md says which).
 */
import { Ec2RequestError } from '../../../core/errors.js';
import { instanceTypeLimits } from '../../../core/instance-types/instance-types.js';
import { isResourceId } from '../../../core/sg/resource-ids.js';
import type { XmlValue } from '../query/ec2-xml.js';
import type { QueryParams } from '../query/query-params.js';
import type { InterfaceType, NetworkInterfaceRow } from '../state/compute-store.js';
import type { SubnetRow } from '../state/ec2-store.js';
import type { Ec2Context } from './ec2-context.js';
import { applyFilters, type FilterFields } from './filters.js';
import {
  addressLimitOf,
  allocateAddress,
  checkRequestedAddress,
  defaultGroupOf,
  existingInterface,
  insertInterface,
  interfaceGroups,
  interfaceInUse,
  interfaceLookups,
  interfaceNotFound,
  interfaceStatus,
  interfaceXml,
  reportedInterfaceType,
  type InterfaceLookups,
} from './interface-records.js';
import { existingInstance, isTrunkingType } from './instance-records.js';
import { withClientToken } from './client-tokens.js';
import { paginate } from './pagination.js';
import { existingSubnet } from './vpcs.js';
import { registerGroupDependents } from './security-groups.js';
import { applyTags, registerTaggableKind, tagSpecificationsOf } from './tags.js';

registerTaggableKind({
  prefix: 'eni-',
  resourceType: 'network-interface',
  exists: (store, id) =>
    isResourceId('networkInterface', id) && store.compute.networkInterface(id) !== undefined,
  notFound: interfaceNotFound,
});

// A group carried by an interface cannot be deleted (EC2's DependencyViolation).
registerGroupDependents((store, groupId) => store.compute.interfacesWithGroup(groupId).length > 0);

const creatableTypes: ReadonlySet<string> = new Set(['trunk', 'efa', 'efa-only', 'branch']);

function booleanParam(params: QueryParams, name: string): boolean | undefined {
  const value = params.get(name);
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false') {
    throw new Ec2RequestError('InvalidParameterValue', `Invalid value '${value}' for ${name}`);
  }
  return value === 'true';
}

function nonNegative(params: QueryParams, name: string): number {
  const value = params.integer(name) ?? 0;
  if (value < 0) {
    throw new Ec2RequestError('InvalidParameterValue', `Invalid value '${value}' for ${name}`);
  }
  return value;
}

export function createNetworkInterface(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  return withClientToken('CreateNetworkInterface', params, context, () => {
    const { store } = context;
    const subnet = existingSubnet(store, params.required('SubnetId'));
    const requestedType = params.get('InterfaceType');
    if (requestedType !== undefined && !creatableTypes.has(requestedType)) {
      throw new Ec2RequestError(
        'InvalidParameterValue',
        `Invalid value '${requestedType}' for InterfaceType`,
      );
    }
    if (requestedType === 'efa' || requestedType === 'efa-only') {
      throw new Ec2RequestError(
        'InvalidParameterValue',
        `Interface type ${requestedType} is not supported in this sandbox`,
      );
    }
    const interfaceType: InterfaceType = requestedType === 'trunk' ? 'trunk' : 'interface';
    const named = params.list('SecurityGroupId');
    const groupIds =
      named.length > 0
        ? interfaceGroups(store, subnet.vpcId, subnet.subnetId, named)
        : [defaultGroupOf(store, subnet.vpcId)];
    const privateIps: string[] = [];
    const primary = params.get('PrivateIpAddress');
    if (primary !== undefined) privateIps.push(checkRequestedAddress(store, subnet, primary));
    for (let index = 1; ; index++) {
      const address = params.get(`PrivateIpAddresses.${index}.PrivateIpAddress`);
      if (address === undefined) break;
      const checked = checkRequestedAddress(store, subnet, address);
      if (params.get(`PrivateIpAddresses.${index}.Primary`) === 'true') privateIps.unshift(checked);
      else if (!privateIps.includes(checked)) privateIps.push(checked);
    }
    const secondaryCount = nonNegative(params, 'SecondaryPrivateIpAddressCount');
    const tags = tagSpecificationsOf(params, 'network-interface');
    const row = insertInterface(context, {
      subnet,
      description: params.get('Description') ?? '',
      groupIds,
      interfaceType,
      privateIps,
      secondaryCount,
    });
    applyTags(store, row.networkInterfaceId, tags);
    return { networkInterface: interfaceXml(row, interfaceLookups(store), context) };
  });
}

export function deleteNetworkInterface(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { compute } = context.store;
  const row = existingInterface(context.store, params.required('NetworkInterfaceId'));
  const id = row.networkInterfaceId;
  if (
    compute.attachmentOfInterface(id) ||
    compute.associationOfBranch(id) ||
    compute.associationsOfTrunk(id).length > 0
  ) {
    throw interfaceInUse(id);
  }
  compute.deleteNetworkInterface(id);
  context.changes.computeChanged('live');
  return { return: true };
}

const interfaceFilterFields = (
  lookups: InterfaceLookups,
  groupName: (id: string) => string,
): FilterFields<NetworkInterfaceRow> => ({
  'network-interface-id': (row) => row.networkInterfaceId,
  'vpc-id': (row) => row.vpcId,
  'subnet-id': (row) => row.subnetId,
  'availability-zone': (row) => row.availabilityZone,
  description: (row) => row.description,
  status: (row) => interfaceStatus(row, lookups),
  'interface-type': (row) => reportedInterfaceType(row, lookups),
  'mac-address': (row) => row.macAddress,
  'owner-id': (row) => row.ownerId,
  'requester-managed': (row) => row.requesterManaged,
  'source-dest-check': (row) => row.sourceDestCheck,
  'group-id': (row) => lookups.groupsOf(row.networkInterfaceId),
  'group-name': (row) => lookups.groupsOf(row.networkInterfaceId).map(groupName),
  'private-ip-address': (row) =>
    lookups.addressesOf(row.networkInterfaceId).map((address) => address.address),
  'addresses.private-ip-address': (row) =>
    lookups.addressesOf(row.networkInterfaceId).map((address) => address.address),
  'addresses.primary': (row) =>
    lookups.addressesOf(row.networkInterfaceId).map((address) => String(address.primary)),
  'attachment.attachment-id': (row) => lookups.attachmentOf(row.networkInterfaceId)?.attachmentId,
  'attachment.instance-id': (row) => lookups.attachmentOf(row.networkInterfaceId)?.instanceId,
  'attachment.instance-owner-id': (row) =>
    lookups.attachmentOf(row.networkInterfaceId) ? row.ownerId : undefined,
  'attachment.device-index': (row) => lookups.attachmentOf(row.networkInterfaceId)?.deviceIndex,
  'attachment.status': (row) =>
    lookups.attachmentOf(row.networkInterfaceId) ? 'attached' : undefined,
  'attachment.delete-on-termination': (row) =>
    lookups.attachmentOf(row.networkInterfaceId)?.deleteOnTermination,
});

export function describeNetworkInterfaces(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const ids = params.list('NetworkInterfaceId');
  for (const id of ids) existingInterface(store, id);
  const lookups = interfaceLookups(store);
  const selected = applyFilters(
    store.compute
      .networkInterfaces()
      .filter((row) => ids.length === 0 || ids.includes(row.networkInterfaceId)),
    params.filters(),
    interfaceFilterFields(lookups, lookups.groupName),
    (row) => lookups.tagsOf(row.networkInterfaceId),
  );
  const page = paginate(selected, params, { min: 5, max: 1000 });
  return {
    networkInterfaceSet: page.items.map((row) => interfaceXml(row, lookups, context)),
    nextToken: page.nextToken,
  };
}

export function attachNetworkInterface(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const { compute } = store;
  const row = existingInterface(store, params.required('NetworkInterfaceId'));
  const instance = existingInstance(store, params.required('InstanceId'));
  const deviceIndex = params.integer('DeviceIndex');
  if (deviceIndex === undefined) {
    throw new Ec2RequestError(
      'MissingParameter',
      'The request must contain the parameter deviceIndex',
    );
  }
  const networkCardIndex = params.integer('NetworkCardIndex') ?? 0;
  if (deviceIndex < 0 || networkCardIndex !== 0) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Invalid value for device index ${deviceIndex} on network card ${networkCardIndex}`,
    );
  }
  if (instance.state !== 'running') {
    throw new Ec2RequestError(
      'IncorrectInstanceState',
      `The instance '${instance.instanceId}' is not in a valid state for this operation.`,
    );
  }
  const id = row.networkInterfaceId;
  if (compute.attachmentOfInterface(id) || compute.associationOfBranch(id)) {
    throw interfaceInUse(id);
  }
  if (row.availabilityZone !== instance.availabilityZone) {
    throw new Ec2RequestError(
      'InvalidParameterCombination',
      'You may not attach a network interface to an instance if they are not in the same availability zone',
    );
  }
  const attached = compute.attachmentsOf(instance.instanceId);
  if (attached.some((attachment) => attachment.deviceIndex === deviceIndex)) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Instance '${instance.instanceId}' already has an interface attached at device index '${deviceIndex}'.`,
    );
  }
  const limits = instanceTypeLimits(instance.instanceType);
  if (limits && attached.length >= limits.maxEnis) {
    throw new Ec2RequestError(
      'AttachmentLimitExceeded',
      `Interface count ${attached.length + 1} exceeds the limit for ${instance.instanceType}`,
    );
  }
  if (row.interfaceType === 'trunk' && !isTrunkingType(instance.instanceType)) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Instance type ${instance.instanceType} does not support trunk network interfaces`,
    );
  }
  if (compute.addressesOf(id).length > addressLimitOf(instance.instanceType)) {
    throw new Ec2RequestError(
      'PrivateIpAddressLimitExceeded',
      `Number of private addresses of ${id} exceeds the limit for ${instance.instanceType}`,
    );
  }
  const attachmentId = context.newId('networkInterfaceAttachment');
  compute.insertAttachment({
    attachmentId,
    networkInterfaceId: id,
    instanceId: instance.instanceId,
    deviceIndex,
    networkCardIndex,
    deleteOnTermination: false,
    attachTime: context.now(),
  });
  context.changes.computeChanged('live');
  return { attachmentId, networkCardIndex };
}

export function detachNetworkInterface(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { compute } = context.store;
  const attachmentId = params.required('AttachmentId');
  const attachment = compute.attachment(attachmentId);
  if (!attachment) {
    throw new Ec2RequestError(
      'InvalidAttachmentID.NotFound',
      `The attachment ID '${attachmentId}' does not exist`,
    );
  }
  if (attachment.deviceIndex === 0) {
    throw new Ec2RequestError(
      'OperationNotPermitted',
      'The network interface at device index 0 cannot be detached.',
    );
  }
  if (compute.associationsOfTrunk(attachment.networkInterfaceId).length > 0) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Trunk interface '${attachment.networkInterfaceId}' has branch interfaces associated; disassociate them first`,
    );
  }
  compute.deleteAttachment(attachmentId);
  context.changes.computeChanged('live');
  return { return: true };
}

/** The single attribute a ModifyNetworkInterfaceAttribute call changes. */
function modifiedAttribute(params: QueryParams): string {
  const present = [
    params.has('SecurityGroupId.') ? 'groupSet' : undefined,
    params.has('Description.') ? 'description' : undefined,
    params.has('SourceDestCheck.') ? 'sourceDestCheck' : undefined,
    params.has('Attachment.') ? 'attachment' : undefined,
  ].filter((name) => name !== undefined);
  if (present.length === 0) {
    throw new Ec2RequestError('InvalidParameterCombination', 'No attributes specified.');
  }
  if (present.length > 1) {
    throw new Ec2RequestError(
      'InvalidParameterCombination',
      `Fields for multiple attribute types specified: ${present.join(', ')}`,
    );
  }
  return present[0] ?? '';
}

export function modifyNetworkInterfaceAttribute(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const { compute } = store;
  const row = existingInterface(store, params.required('NetworkInterfaceId'));
  const id = row.networkInterfaceId;
  switch (modifiedAttribute(params)) {
    case 'groupSet': {
      const groupIds = interfaceGroups(
        store,
        row.vpcId,
        row.subnetId,
        params.list('SecurityGroupId'),
      );
      compute.setGroups(id, groupIds);
      break;
    }
    case 'description':
      compute.updateNetworkInterface({
        ...row,
        description: params.get('Description.Value') ?? '',
      });
      break;
    case 'sourceDestCheck': {
      const value = booleanParam(params, 'SourceDestCheck.Value');
      if (value === undefined) {
        throw new Ec2RequestError(
          'MissingParameter',
          'The request must contain the parameter SourceDestCheck.Value',
        );
      }
      compute.updateNetworkInterface({ ...row, sourceDestCheck: value });
      break;
    }
    default: {
      const attachmentId = params.required('Attachment.AttachmentId');
      const attachment = compute.attachmentOfInterface(id);
      if (!attachment || attachment.attachmentId !== attachmentId) {
        throw new Ec2RequestError(
          'InvalidAttachmentID.NotFound',
          `The attachment ID '${attachmentId}' does not exist`,
        );
      }
      const value = booleanParam(params, 'Attachment.DeleteOnTermination');
      if (value === undefined) {
        throw new Ec2RequestError(
          'MissingParameter',
          'The request must contain the parameter Attachment.DeleteOnTermination',
        );
      }
      compute.setDeleteOnTermination(attachmentId, value);
    }
  }
  context.changes.computeChanged('live');
  return { return: true };
}

export function assignPrivateIpAddresses(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const { compute } = store;
  const row = existingInterface(store, params.required('NetworkInterfaceId'));
  const id = row.networkInterfaceId;
  const subnet = existingSubnet(store, row.subnetId);
  const requested = params.list('PrivateIpAddress');
  const count = nonNegative(params, 'SecondaryPrivateIpAddressCount');
  if (requested.length > 0 && count > 0) {
    throw new Ec2RequestError(
      'InvalidParameterCombination',
      'You may specify either secondary private IP addresses or a count, not both.',
    );
  }
  if (requested.length === 0 && count === 0) {
    throw new Ec2RequestError(
      'MissingParameter',
      'The request must contain the parameter privateIpAddress or secondaryPrivateIpAddressCount',
    );
  }
  const reassign = booleanParam(params, 'AllowReassignment') ?? false;
  const current = compute.addressesOf(id);
  const attachment = compute.attachmentOfInterface(id);
  const instance = attachment ? compute.instance(attachment.instanceId) : undefined;
  const limit = instance ? addressLimitOf(instance.instanceType) : 50;
  if (current.length + requested.length + count > limit) {
    throw new Ec2RequestError(
      'PrivateIpAddressLimitExceeded',
      'Number of private addresses will exceed limit.',
    );
  }
  const assigned = requested
    .filter((text) => compute.addressOwner(row.vpcId, text) !== id)
    .map((text) => claimAddress(context, subnet, id, text, reassign));
  const taken = compute.addressesIn(row.vpcId);
  for (let index = 0; index < count; index++) {
    assigned.push(allocateAddress(context, subnet, taken));
  }
  for (const address of assigned) compute.addAddress(row.vpcId, id, address, false);
  context.changes.computeChanged('live');
  return {
    return: true,
    networkInterfaceId: id,
    assignedPrivateIpAddressesSet: assigned.map((privateIpAddress) => ({ privateIpAddress })),
    assignedIpv4PrefixSet: [],
  };
}

/** A requested address for `id`; with AllowReassignment it moves from another interface. */
function claimAddress(
  context: Ec2Context,
  subnet: SubnetRow,
  id: string,
  text: string,
  reassign: boolean,
): string {
  const { compute } = context.store;
  const owner = compute.addressOwner(subnet.vpcId, text);
  if (owner !== undefined && reassign) {
    const moved = compute.addressesOf(owner).find((address) => address.address === text);
    if (moved?.primary) {
      throw new Ec2RequestError(
        'InvalidIPAddress.InUse',
        `Address ${text} is the primary address of ${owner}`,
      );
    }
    compute.removeAddress(owner, text);
  }
  return checkRequestedAddress(context.store, subnet, text);
}

export function unassignPrivateIpAddresses(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { compute } = context.store;
  const row = existingInterface(context.store, params.required('NetworkInterfaceId'));
  const id = row.networkInterfaceId;
  const requested = params.list('PrivateIpAddress');
  if (requested.length === 0) {
    throw new Ec2RequestError(
      'MissingParameter',
      'The request must contain the parameter privateIpAddress',
    );
  }
  const current = new Map(compute.addressesOf(id).map((address) => [address.address, address]));
  for (const text of requested) {
    const address = current.get(text);
    if (!address) {
      throw new Ec2RequestError(
        'InvalidParameterValue',
        `Some of the specified addresses are not assigned to interface ${id}`,
      );
    }
    if (address.primary) {
      throw new Ec2RequestError(
        'InvalidParameterValue',
        `The primary address ${text} of interface ${id} cannot be unassigned`,
      );
    }
  }
  for (const text of requested) compute.removeAddress(id, text);
  context.changes.computeChanged('live');
  return { return: true };
}

const permissions: ReadonlySet<string> = new Set(['INSTANCE-ATTACH', 'EIP-ASSOCIATE']);

function permissionXml(row: {
  permissionId: string;
  networkInterfaceId: string;
  awsAccountId?: string | undefined;
  awsService?: string | undefined;
  permission: string;
}): XmlValue {
  return {
    networkInterfacePermissionId: row.permissionId,
    networkInterfaceId: row.networkInterfaceId,
    awsAccountId: row.awsAccountId,
    awsService: row.awsService,
    permission: row.permission,
    permissionState: { state: 'granted' },
  };
}

export function createNetworkInterfacePermission(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const row = existingInterface(context.store, params.required('NetworkInterfaceId'));
  const permission = params.required('Permission');
  if (!permissions.has(permission)) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Invalid value '${permission}' for Permission`,
    );
  }
  const awsAccountId = params.get('AwsAccountId');
  const awsService = params.get('AwsService');
  if ((awsAccountId === undefined) === (awsService === undefined)) {
    throw new Ec2RequestError(
      'InvalidParameterCombination',
      'Exactly one of AwsAccountId and AwsService must be specified.',
    );
  }
  const created = {
    permissionId: context.newId('networkInterfacePermission'),
    networkInterfaceId: row.networkInterfaceId,
    awsAccountId,
    awsService,
    permission,
  };
  context.store.compute.insertPermission(created);
  return { interfacePermission: permissionXml(created) };
}

export function describeNetworkInterfacePermissions(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const ids = params.list('NetworkInterfacePermissionId');
  const selected = applyFilters(
    context.store.compute
      .permissions()
      .filter((row) => ids.length === 0 || ids.includes(row.permissionId)),
    params.filters(),
    {
      'network-interface-permission.network-interface-permission-id': (row) => row.permissionId,
      'network-interface-permission.network-interface-id': (row) => row.networkInterfaceId,
      'network-interface-permission.aws-account-id': (row) => row.awsAccountId,
      'network-interface-permission.aws-service': (row) => row.awsService,
      'network-interface-permission.permission': (row) => row.permission,
    },
  );
  const page = paginate(selected, params, { min: 5, max: 255 });
  return {
    networkInterfacePermissions: page.items.map(permissionXml),
    nextToken: page.nextToken,
  };
}

export function deleteNetworkInterfacePermission(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const id = params.required('NetworkInterfacePermissionId');
  if (!context.store.compute.permission(id)) {
    throw new Ec2RequestError(
      'InvalidPermissionID.NotFound',
      `The network interface permission ID '${id}' does not exist`,
    );
  }
  context.store.compute.deletePermission(id);
  return { return: true };
}
