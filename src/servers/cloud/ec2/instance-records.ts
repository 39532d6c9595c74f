/**
 * What instances share across actions: finding one (EC2's Malformed / NotFound errors), the
 * trunking capability of a type, and rendering an instance as DescribeInstances does.
 */
import { Ec2RequestError } from '../../../core/errors.js';
import { instanceTypeLimits } from '../../../core/instance-types/instance-types.js';
import { isResourceId } from '../../../core/sg/resource-ids.js';
import type { XmlValue } from '../query/ec2-xml.js';
import { instanceStateCodes, type InstanceRow } from '../state/compute-store.js';
import type { Ec2Store } from '../state/ec2-store.js';
import type { Ec2Context } from './ec2-context.js';
import {
  groupSetXml,
  interfaceXml,
  privateDnsNameOf,
  type InterfaceLookups,
} from './interface-records.js';
import { tagSetXml } from './tags.js';

export function malformedInstanceId(id: string): Ec2RequestError {
  return new Ec2RequestError('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
}

export function instancesNotFound(ids: readonly string[]): Ec2RequestError {
  return ids.length === 1
    ? new Ec2RequestError(
        'InvalidInstanceID.NotFound',
        `The instance ID '${ids[0] ?? ''}' does not exist`,
      )
    : new Ec2RequestError(
        'InvalidInstanceID.NotFound',
        `The instance IDs '${ids.join(', ')}' do not exist`,
      );
}

export function existingInstance(store: Ec2Store, id: string): InstanceRow {
  if (!isResourceId('instance', id)) throw malformedInstanceId(id);
  const row = store.compute.instance(id);
  if (!row) throw instancesNotFound([id]);
  return row;
}

/** The instances named by `InstanceId.N`: every id well formed and known, else EC2's error. */
export function existingInstances(store: Ec2Store, ids: readonly string[]): InstanceRow[] {
  for (const id of ids) if (!isResourceId('instance', id)) throw malformedInstanceId(id);
  const rows = ids.map((id) => store.compute.instance(id));
  const missing = ids.filter((_, index) => rows[index] === undefined);
  if (missing.length > 0) throw instancesNotFound(missing);
  return rows.filter((row) => row !== undefined);
}

export function isTrunkingType(instanceType: string): boolean {
  return instanceTypeLimits(instanceType)?.trunking ?? false;
}

/** Graviton types (`m6g`, `c7gn`, `a1`) are arm64; everything else here is x86_64. */
export function architectureOf(instanceType: string): string {
  const family = instanceType.split('.')[0] ?? '';
  return /^a1$|^[a-z]+\d+g[a-z]*$/.test(family) ? 'arm64' : 'x86_64';
}

export function stateXml(state: InstanceRow['state']): XmlValue {
  return { code: instanceStateCodes[state], name: state };
}

export function instanceXml(
  row: InstanceRow,
  lookups: InterfaceLookups,
  attachedInterfaces: readonly string[],
  context: Ec2Context,
): Record<string, XmlValue> {
  const { compute } = context.store;
  const interfaces = attachedInterfaces
    .map((id) => compute.networkInterface(id))
    .filter((item) => item !== undefined);
  const primary = interfaces.find(
    (item) => lookups.attachmentOf(item.networkInterfaceId)?.deviceIndex === 0,
  );
  const primaryAddress = primary
    ? lookups.addressesOf(primary.networkInterfaceId).find((address) => address.primary)?.address
    : undefined;
  const terminated = row.state === 'terminated' || row.state === 'shutting-down';
  return {
    instanceId: row.instanceId,
    imageId: row.imageId,
    instanceState: stateXml(row.state),
    privateDnsName: primaryAddress ? privateDnsNameOf(context.region, primaryAddress) : '',
    dnsName: '',
    reason: row.stateReason ? `User initiated (${row.stateChangedAt})` : '',
    keyName: row.keyName,
    amiLaunchIndex: row.amiLaunchIndex,
    productCodes: [],
    instanceType: row.instanceType,
    launchTime: row.launchTime,
    placement: { availabilityZone: row.availabilityZone, groupName: '', tenancy: 'default' },
    monitoring: { state: 'disabled' },
    subnetId: terminated && !primary ? undefined : row.subnetId,
    vpcId: terminated && !primary ? undefined : row.vpcId,
    privateIpAddress: primaryAddress,
    sourceDestCheck: primary?.sourceDestCheck,
    groupSet: primary ? groupSetXml(lookups.groupsOf(primary.networkInterfaceId), lookups) : [],
    stateReason: row.stateReason
      ? { code: row.stateReason, message: `${row.stateReason}: User initiated shutdown` }
      : undefined,
    architecture: architectureOf(row.instanceType),
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/xvda',
    blockDeviceMapping: [],
    virtualizationType: 'hvm',
    clientToken: row.clientToken ?? '',
    tagSet: tagSetXml(lookups.tagsOf(row.instanceId)),
    hypervisor: 'xen',
    networkInterfaceSet: interfaces.map((item) => interfaceXml(item, lookups, context)),
    iamInstanceProfile: row.iamInstanceProfileArn
      ? { arn: row.iamInstanceProfileArn, id: `AIPA${row.instanceId.slice(2, 19).toUpperCase()}` }
      : undefined,
    ebsOptimized: false,
    enaSupport: true,
    metadataOptions: {
      state: 'applied',
      httpTokens: 'optional',
      httpPutResponseHopLimit: 2,
      httpEndpoint: 'enabled',
      httpProtocolIpv6: 'disabled',
      instanceMetadataTags: 'disabled',
    },
    platformDetails: 'Linux/UNIX',
  };
}
