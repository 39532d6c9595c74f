/**
 * Instances: RunInstances, TerminateInstances, DescribeInstances. An instance is born `pending`
 * with its primary interface; the compute plane gives it a network namespace and then marks it
 * `running`. Terminating moves it to `shutting-down`, detaches its interfaces (deleting those
 * with DeleteOnTermination) and the plane marks it `terminated` once its namespace is gone.
 */
import { Ec2RequestError } from '../../../core/errors.js';
import { instanceTypeLimits } from '../../../core/instance-types/instance-types.js';
import { isResourceId } from '../../../core/sg/resource-ids.js';
import type { XmlValue } from '../query/ec2-xml.js';
import type { QueryParams } from '../query/query-params.js';
import { instanceStateCodes, type InstanceRow } from '../state/compute-store.js';
import type { SubnetRow } from '../state/ec2-store.js';
import type { Ec2Context } from './ec2-context.js';
import { applyFilters, type FilterFields } from './filters.js';
import { existingInstances, instanceXml, stateXml } from './instance-records.js';
import {
  addressLimitOf,
  checkRequestedAddress,
  defaultGroupOf,
  insertInterface,
  interfaceGroups,
  interfaceLookups,
  privateDnsNameOf,
} from './interface-records.js';
import { withClientToken } from './client-tokens.js';
import { paginate } from './pagination.js';
import { existingSubnet } from './vpcs.js';
import { applyTags, registerTaggableKind, tagsOf } from './tags.js';

registerTaggableKind({
  prefix: 'i-',
  resourceType: 'instance',
  exists: (store, id) => isResourceId('instance', id) && store.compute.instance(id) !== undefined,
  notFound: (id) =>
    new Ec2RequestError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`),
});

/** How many instances one home may run at once: each is a namespace on this machine. */
export const maxLiveInstances = 1000;

const imageIdPattern = /^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

function countOf(params: QueryParams, name: string): number {
  const value = params.integer(name);
  if (value === undefined) {
    throw new Ec2RequestError('MissingParameter', `The request must contain the parameter ${name}`);
  }
  if (value < 1) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Invalid value '${value}' for ${name}. Must be greater than zero`,
    );
  }
  return value;
}

/** Tags of `TagSpecification.N` per resource type (RunInstances tags instances and interfaces). */
function tagSpecificationsByType(
  params: QueryParams,
): Map<string, { key: string; value: string }[]> {
  const byType = new Map<string, { key: string; value: string }[]>();
  for (let index = 1; ; index++) {
    const type = params.get(`TagSpecification.${index}.ResourceType`);
    if (type === undefined) return byType;
    if (type !== 'instance' && type !== 'network-interface' && type !== 'volume') {
      throw new Ec2RequestError(
        'InvalidParameterValue',
        `'${type}' is not a valid taggable resource type for this operation.`,
      );
    }
    byType.set(type, [
      ...(byType.get(type) ?? []),
      ...tagsOf(params, `TagSpecification.${index}.Tag`),
    ]);
  }
}

export function runInstances(params: QueryParams, context: Ec2Context): Record<string, XmlValue> {
  return withClientToken('RunInstances', params, context, () => launch(params, context));
}

const nicPrefix = 'NetworkInterface.1.';

function checkedImageId(params: QueryParams): string {
  const imageId = params.required('ImageId');
  if (!imageIdPattern.test(imageId)) {
    throw new Ec2RequestError(
      'InvalidAMIID.Malformed',
      `Invalid id: "${imageId}" (expecting "ami-...")`,
    );
  }
  return imageId;
}

function checkedInstanceType(params: QueryParams): string {
  const instanceType = params.get('InstanceType') ?? 'm1.small';
  if (!instanceTypeLimits(instanceType)) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Invalid value '${instanceType}' for InstanceType.`,
    );
  }
  return instanceType;
}

/** How many instances to launch: MaxCount, as far as the limit allows at least MinCount. */
function launchCount(params: QueryParams, context: Ec2Context): number {
  const minCount = countOf(params, 'MinCount');
  const maxCount = countOf(params, 'MaxCount');
  if (minCount > maxCount) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `MinCount (${minCount}) must be less than or equal to MaxCount (${maxCount})`,
    );
  }
  const live = context.store.compute.liveInstanceCount();
  if (live + minCount > maxLiveInstances) {
    throw new Ec2RequestError(
      'InstanceLimitExceeded',
      `You have requested more instances (${live + minCount}) than your current instance limit of ${maxLiveInstances} allows for the specified instance type.`,
    );
  }
  return Math.min(maxCount, maxLiveInstances - live);
}

function launchSubnet(params: QueryParams, context: Ec2Context): SubnetRow {
  if (params.has('SecurityGroup.')) {
    throw new Ec2RequestError(
      'InvalidParameterCombination',
      'The parameter groupName cannot be used with the parameter subnet',
    );
  }
  const subnetId = params.get('SubnetId') ?? params.get(`${nicPrefix}SubnetId`);
  if (subnetId === undefined) {
    throw new Ec2RequestError('VPCIdNotSpecified', 'No default VPC for this user');
  }
  const subnet = existingSubnet(context.store, subnetId);
  const zone = params.get('Placement.AvailabilityZone');
  if (zone !== undefined && zone !== subnet.availabilityZone) {
    throw new Ec2RequestError(
      'InvalidParameterValue',
      `Value (${zone}) for parameter availabilityZone is invalid. Subnet '${subnet.subnetId}' is in the availability zone ${subnet.availabilityZone}`,
    );
  }
  return subnet;
}

function launchAddresses(
  params: QueryParams,
  context: Ec2Context,
  subnet: SubnetRow,
  count: number,
  instanceType: string,
): { privateIps: string[]; secondaryCount: number } {
  const requestedIp = params.get('PrivateIpAddress') ?? params.get(`${nicPrefix}PrivateIpAddress`);
  if (requestedIp !== undefined && count > 1) {
    throw new Ec2RequestError(
      'InvalidParameterCombination',
      'Cannot specify a private IP address when launching more than one instance',
    );
  }
  const privateIps = requestedIp ? [checkRequestedAddress(context.store, subnet, requestedIp)] : [];
  const secondaryCount = params.integer(`${nicPrefix}SecondaryPrivateIpAddressCount`) ?? 0;
  if (secondaryCount < 0 || secondaryCount + 1 > addressLimitOf(instanceType)) {
    throw new Ec2RequestError(
      'PrivateIpAddressLimitExceeded',
      `Number of private addresses exceeds the limit for ${instanceType}`,
    );
  }
  return { privateIps, secondaryCount };
}

function instanceProfileArn(params: QueryParams, context: Ec2Context): string | undefined {
  const profile = params.get('IamInstanceProfile.Arn') ?? params.get('IamInstanceProfile.Name');
  if (profile === undefined) return undefined;
  return profile.startsWith('arn:')
    ? profile
    : `arn:aws:iam::${context.accountId}:instance-profile/${profile}`;
}

/** Everything RunInstances was asked for, checked before anything is written. */
interface LaunchSpec {
  readonly imageId: string;
  readonly instanceType: string;
  readonly count: number;
  readonly subnet: SubnetRow;
  readonly groupIds: readonly string[];
  readonly privateIps: readonly string[];
  readonly secondaryCount: number;
  readonly deleteOnTermination: boolean;
  readonly tags: Map<string, { key: string; value: string }[]>;
  readonly iamInstanceProfileArn: string | undefined;
}

function launchSpec(params: QueryParams, context: Ec2Context): LaunchSpec {
  const imageId = checkedImageId(params);
  const instanceType = checkedInstanceType(params);
  const count = launchCount(params, context);
  const subnet = launchSubnet(params, context);
  const named = [...params.list('SecurityGroupId'), ...params.list(`${nicPrefix}SecurityGroupId`)];
  const groupIds =
    named.length > 0
      ? interfaceGroups(context.store, subnet.vpcId, subnet.subnetId, named)
      : [defaultGroupOf(context.store, subnet.vpcId)];
  return {
    imageId,
    instanceType,
    count,
    subnet,
    groupIds,
    ...launchAddresses(params, context, subnet, count, instanceType),
    deleteOnTermination: params.get(`${nicPrefix}DeleteOnTermination`) !== 'false',
    tags: tagSpecificationsByType(params),
    iamInstanceProfileArn: instanceProfileArn(params, context),
  };
}

function launch(params: QueryParams, context: Ec2Context): Record<string, XmlValue> {
  const { store } = context;
  const spec = launchSpec(params, context);
  const reservationId = context.newId('reservation');
  const now = context.now();
  const launched: InstanceRow[] = [];
  for (let index = 0; index < spec.count; index++) {
    const instance: InstanceRow = {
      instanceId: context.newId('instance'),
      reservationId,
      imageId: spec.imageId,
      instanceType: spec.instanceType,
      subnetId: spec.subnet.subnetId,
      vpcId: spec.subnet.vpcId,
      availabilityZone: spec.subnet.availabilityZone,
      state: 'pending',
      stateChangedAt: now,
      launchTime: now,
      amiLaunchIndex: index,
      keyName: params.get('KeyName'),
      clientToken: params.get('ClientToken'),
      iamInstanceProfileArn: spec.iamInstanceProfileArn,
    };
    store.compute.insertInstance(instance);
    applyTags(store, instance.instanceId, spec.tags.get('instance') ?? []);
    const primary = insertInterface(context, {
      subnet: spec.subnet,
      description: params.get(`${nicPrefix}Description`) ?? '',
      groupIds: spec.groupIds,
      interfaceType: 'interface',
      privateIps: spec.privateIps,
      secondaryCount: spec.secondaryCount,
    });
    applyTags(store, primary.networkInterfaceId, spec.tags.get('network-interface') ?? []);
    store.compute.insertAttachment({
      attachmentId: context.newId('networkInterfaceAttachment'),
      networkInterfaceId: primary.networkInterfaceId,
      instanceId: instance.instanceId,
      deviceIndex: 0,
      networkCardIndex: 0,
      deleteOnTermination: spec.deleteOnTermination,
      attachTime: now,
    });
    launched.push(instance);
  }
  context.changes.computeChanged('background');
  const lookups = interfaceLookups(store);
  return {
    reservationId,
    ownerId: context.accountId,
    groupSet: [],
    instancesSet: launched.map((instance) =>
      instanceXml(instance, lookups, attachedInterfaceIds(context, instance.instanceId), context),
    ),
  };
}

function attachedInterfaceIds(context: Ec2Context, instanceId: string): string[] {
  return context.store.compute
    .attachmentsOf(instanceId)
    .map((attachment) => attachment.networkInterfaceId);
}

/**
 * Starts shutting an instance down: interfaces with DeleteOnTermination go (with the branch
 * associations of a trunk among them), the others are detached and become `available`.
 */
export function beginTermination(context: Ec2Context, instance: InstanceRow): void {
  const { compute } = context.store;
  for (const attachment of compute.attachmentsOf(instance.instanceId)) {
    for (const association of compute.associationsOfTrunk(attachment.networkInterfaceId)) {
      compute.deleteTrunkAssociation(association.associationId);
    }
    compute.deleteAttachment(attachment.attachmentId);
    if (attachment.deleteOnTermination) {
      compute.deleteNetworkInterface(attachment.networkInterfaceId);
    }
  }
  compute.setInstanceState(
    instance.instanceId,
    instance.state,
    'shutting-down',
    context.now(),
    'Client.UserInitiatedShutdown',
  );
}

export function terminateInstances(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const ids = params.list('InstanceId');
  if (ids.length === 0) {
    throw new Ec2RequestError(
      'MissingParameter',
      'The request must contain the parameter InstanceId',
    );
  }
  const instances = existingInstances(context.store, ids);
  const items = instances.map((instance) => {
    const previous = instance.state;
    const stopping = previous === 'pending' || previous === 'running';
    if (stopping) beginTermination(context, instance);
    return {
      instanceId: instance.instanceId,
      currentState: stateXml(stopping ? 'shutting-down' : previous),
      previousState: stateXml(previous),
    };
  });
  context.changes.computeChanged('background');
  return { instancesSet: items };
}

export function describeInstances(
  params: QueryParams,
  context: Ec2Context,
): Record<string, XmlValue> {
  const { store } = context;
  const ids = params.list('InstanceId');
  existingInstances(store, ids);
  const lookups = interfaceLookups(store);
  const attachmentsByInstance = new Map<string, string[]>();
  for (const attachment of store.compute.attachments()) {
    const list = attachmentsByInstance.get(attachment.instanceId) ?? [];
    list.push(attachment.networkInterfaceId);
    attachmentsByInstance.set(attachment.instanceId, list);
  }
  const interfacesOf = (row: InstanceRow) => attachmentsByInstance.get(row.instanceId) ?? [];
  const primaryOf = (row: InstanceRow) =>
    interfacesOf(row).find((id) => lookups.attachmentOf(id)?.deviceIndex === 0);
  const primaryAddress = (row: InstanceRow) => {
    const primary = primaryOf(row);
    return primary
      ? lookups.addressesOf(primary).find((address) => address.primary)?.address
      : undefined;
  };
  const fields: FilterFields<InstanceRow> = {
    'instance-id': (row) => row.instanceId,
    'instance-state-name': (row) => row.state,
    'instance-state-code': (row) => String(instanceStateCodes[row.state]),
    'instance-type': (row) => row.instanceType,
    'image-id': (row) => row.imageId,
    'reservation-id': (row) => row.reservationId,
    'vpc-id': (row) => row.vpcId,
    'subnet-id': (row) => row.subnetId,
    'availability-zone': (row) => row.availabilityZone,
    'key-name': (row) => row.keyName,
    'launch-time': (row) => row.launchTime,
    'private-ip-address': primaryAddress,
    'private-dns-name': (row) => {
      const address = primaryAddress(row);
      return address ? privateDnsNameOf(context.region, address) : undefined;
    },
    'instance.group-id': (row) => {
      const primary = primaryOf(row);
      return primary ? lookups.groupsOf(primary) : [];
    },
    'instance.group-name': (row) => {
      const primary = primaryOf(row);
      return primary ? lookups.groupsOf(primary).map(lookups.groupName) : [];
    },
    'network-interface.network-interface-id': interfacesOf,
    'network-interface.addresses.private-ip-address': (row) =>
      interfacesOf(row).flatMap((id) => lookups.addressesOf(id).map((address) => address.address)),
    'network-interface.group-id': (row) => interfacesOf(row).flatMap(lookups.groupsOf),
    'network-interface.subnet-id': (row) => row.subnetId,
    'network-interface.vpc-id': (row) => row.vpcId,
    'owner-id': () => context.accountId,
    'iam-instance-profile.arn': (row) => row.iamInstanceProfileArn,
  };
  const selected = applyFilters(
    store.compute.instances().filter((row) => ids.length === 0 || ids.includes(row.instanceId)),
    params.filters(),
    fields,
    (row) => lookups.tagsOf(row.instanceId),
  );
  const page = paginate(selected, params, { min: 5, max: 1000 });
  const reservations = new Map<string, InstanceRow[]>();
  for (const row of page.items) {
    reservations.set(row.reservationId, [...(reservations.get(row.reservationId) ?? []), row]);
  }
  return {
    reservationSet: [...reservations].map(([reservationId, rows]) => ({
      reservationId,
      ownerId: context.accountId,
      groupSet: [],
      instancesSet: rows.map((row) => instanceXml(row, lookups, interfacesOf(row), context)),
    })),
    nextToken: page.nextToken,
  };
}
