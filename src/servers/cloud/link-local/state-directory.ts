/**
 * The VPC directory read from the cloud's committed state: a read-only connection to the
 * home's SQLite file (WAL lets it read while the cloud writes), queried per request, so the
 * metadata service and the resolver see an instance the moment its launch commits.
 */
import Database from 'better-sqlite3';
import { privateDnsNameOf } from '../ec2/interface-records.js';
import {
  apiEndpointHostOf,
  awsServiceHostsOf,
  controlPlaneAddressesOf,
} from '../eks/control-plane.js';
import { Ec2Store } from '../state/ec2-store.js';
import type {
  InstanceMetadata,
  InterfaceMetadata,
  NameAddresses,
  RoleKeys,
  VpcDirectory,
} from './vpc-directory.js';

/** The zone of instance names: `<region>.compute.internal`, `ec2.internal` in us-east-1. */
export function instanceZoneOf(region: string): string {
  return region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`;
}

const instanceHostPattern = /^ip-(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})$/;

export class StateDirectory implements VpcDirectory {
  readonly #database: Database.Database;
  readonly #store: Ec2Store;
  readonly #zone: string;
  /** RDS endpoint names: `<id>.<random>.<region>.rds.amazonaws.com`. */
  readonly #rdsZone: string;
  readonly region: string;

  constructor(
    databasePath: string,
    private readonly accountId: string,
  ) {
    this.#database = new Database(databasePath, { readonly: true, fileMustExist: true });
    this.#database.pragma('busy_timeout = 5000');
    this.#store = new Ec2Store(this.#database);
    this.region = this.#store.meta('region') ?? 'us-west-2';
    this.#zone = instanceZoneOf(this.region);
    this.#rdsZone = `${this.region}.rds.amazonaws.com`;
  }

  close(): void {
    this.#database.close();
  }

  /** The CIDR of the cluster VPC (the one made at first start). */
  clusterVpcCidr(): string | undefined {
    const network = JSON.parse(this.#store.meta('network') ?? '{}') as { vpcId?: string };
    return this.#store.vpcs().find((vpc) => vpc.vpcId === network.vpcId)?.cidrBlock;
  }

  meta(key: string): string | undefined {
    return this.#store.meta(key);
  }

  /** The live instance behind an address: its own interfaces, or a branch of one of its trunks. */
  instanceByAddress(address: string): InstanceMetadata | undefined {
    const store = this.#store;
    const { compute } = store;
    for (const vpc of store.vpcs()) {
      const owner = compute.addressOwner(vpc.vpcId, address);
      if (!owner) continue;
      const association = compute.associationOfBranch(owner);
      const attachment = compute.attachmentOfInterface(association?.trunkInterfaceId ?? owner);
      const instance = attachment ? compute.instance(attachment.instanceId) : undefined;
      if (!instance || (instance.state !== 'running' && instance.state !== 'pending')) continue;
      return this.#metadataOf(instance.instanceId);
    }
    return undefined;
  }

  #metadataOf(instanceId: string): InstanceMetadata | undefined {
    const store = this.#store;
    const { compute } = store;
    const instance = compute.instance(instanceId);
    if (!instance) return undefined;
    const names = new Map(store.groups().map((group) => [group.groupId, group.groupName]));
    const subnets = new Map(store.subnets().map((subnet) => [subnet.subnetId, subnet]));
    const vpcs = new Map(store.vpcs().map((vpc) => [vpc.vpcId, vpc]));
    const interfaces: InterfaceMetadata[] = [];
    for (const attachment of compute.attachmentsOf(instanceId)) {
      const row = compute.networkInterface(attachment.networkInterfaceId);
      if (!row) continue;
      const addresses = compute.addressesOf(row.networkInterfaceId).map((item) => item.address);
      const groupIds = compute.groupsOf(row.networkInterfaceId);
      const subnet = subnets.get(row.subnetId);
      const vpc = vpcs.get(row.vpcId);
      interfaces.push({
        mac: row.macAddress,
        deviceNumber: attachment.deviceIndex,
        networkCardIndex: attachment.networkCardIndex,
        interfaceId: row.networkInterfaceId,
        ownerId: row.ownerId,
        localIpv4s: addresses,
        ipv6s: [],
        localHostname: privateDnsNameOf(this.region, addresses[0] ?? ''),
        subnetId: row.subnetId,
        subnetIpv4CidrBlock: subnet?.cidrBlock ?? '',
        vpcId: row.vpcId,
        vpcIpv4CidrBlocks: vpc ? [vpc.cidrBlock] : [],
        securityGroupIds: groupIds,
        securityGroupNames: groupIds.map((id) => names.get(id) ?? id),
      });
    }
    interfaces.sort((a, b) => a.deviceNumber - b.deviceNumber);
    const primary = interfaces.find((item) => item.deviceNumber === 0);
    const privateIp = primary?.localIpv4s[0] ?? '';
    const subnet = subnets.get(instance.subnetId);
    const tags = Object.fromEntries(
      store.tagsOf(instanceId).map((tag) => [tag.key, tag.value] as const),
    );
    return {
      instanceId,
      instanceType: instance.instanceType,
      imageId: instance.imageId,
      amiLaunchIndex: instance.amiLaunchIndex,
      reservationId: instance.reservationId,
      accountId: this.accountId,
      region: this.region,
      availabilityZone: instance.availabilityZone,
      availabilityZoneId: subnet?.availabilityZoneId ?? '',
      launchTime: instance.launchTime,
      privateIp,
      privateDnsName: privateDnsNameOf(this.region, privateIp),
      interfaces,
      securityGroupNames: primary?.securityGroupNames ?? [],
      ...this.#profileOf(instanceId, instance.iamInstanceProfileArn),
      tags,
    };
  }

  #profileOf(
    instanceId: string,
    profileArn: string | undefined,
  ): Pick<InstanceMetadata, 'iamInstanceProfileArn' | 'iamInstanceProfileId' | 'iamRole'> {
    if (!profileArn) return {};
    const iamRole = this.#roleOfProfile(profileArn);
    return {
      iamInstanceProfileArn: profileArn,
      iamInstanceProfileId: `AIPA${instanceId.slice(2, 19).toUpperCase()}`,
      ...(iamRole ? { iamRole } : {}),
    };
  }

  /**
   * The role behind an instance profile. Profiles are not modelled (RunInstances takes any
   * profile name), so a profile holds the role of its own name: the last segment of its ARN, as
   * the IAM console names the profile it makes for an EC2 role. The credentials carry the home's
   * own key pair (the one key the endpoint accepts) with a session token the service mints; a
   * home without keys issues none.
   */
  #roleOfProfile(profileArn: string): RoleKeys | undefined {
    const roleName = profileArn.split(':instance-profile/')[1]?.split('/').pop();
    const accessKeyId = this.#store.meta('accessKeyId');
    const secretAccessKey = this.#store.meta('secretAccessKey');
    if (!roleName || !accessKeyId || !secretAccessKey) return undefined;
    return { roleName, accessKeyId, secretAccessKey };
  }

  isAuthoritativeFor(name: string): boolean {
    return (
      [this.#zone, this.#rdsZone].some((zone) => name === zone || name.endsWith(`.${zone}`)) ||
      this.#controlPlaneName(name) !== undefined
    );
  }

  /**
   * The control plane's names (private DNS, as EKS's endpoint and the VPC's interface endpoints
   * give it): which of its addresses `name` stands for.
   */
  #controlPlaneName(name: string): 'api' | 'services' | undefined {
    if (awsServiceHostsOf(this.region).includes(name)) return 'services';
    const identity = JSON.parse(this.#store.meta('eks') ?? '{}') as { endpointId?: string };
    if (
      identity.endpointId !== undefined &&
      name === apiEndpointHostOf(identity.endpointId, this.region).toLowerCase()
    )
      return 'api';
    return undefined;
  }

  /**
   * `ip-a-b-c-d.<zone>` resolves when a.b.c.d is an address of an interface in the VPC; an RDS
   * endpoint name resolves to its instance's address once the instance has an endpoint.
   */
  resolveName(name: string): NameAddresses | undefined {
    const controlPlane = this.#controlPlaneName(name);
    if (controlPlane !== undefined) {
      const addresses = controlPlaneAddressesOf(this.#store);
      return addresses ? { v4: [addresses[controlPlane]], v6: [] } : undefined;
    }
    if (name.endsWith(`.${this.#rdsZone}`)) return this.#resolveDatabase(name);
    if (!name.endsWith(`.${this.#zone}`)) return undefined;
    const host = name.slice(0, -this.#zone.length - 1);
    const match = instanceHostPattern.exec(host);
    if (!match) return undefined;
    const address = match.slice(1, 5).map(Number).join('.');
    if (match.slice(1, 5).some((part) => Number(part) > 255 || String(Number(part)) !== part)) {
      return undefined;
    }
    const { compute } = this.#store;
    const known = this.#store.vpcs().some((vpc) => compute.addressOwner(vpc.vpcId, address));
    return known ? { v4: [address], v6: [] } : undefined;
  }

  #resolveDatabase(name: string): NameAddresses | undefined {
    const row = this.#store.rds.instances().find((db) => db.endpointAddress === name);
    if (!row?.networkInterfaceId || row.status === 'creating' || row.status === 'deleting') {
      return undefined;
    }
    const address = this.#store.compute
      .addressesOf(row.networkInterfaceId)
      .find((item) => item.primary)?.address;
    return address ? { v4: [address], v6: [] } : undefined;
  }
}
