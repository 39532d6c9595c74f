/**
 * What the VPC's link-local services (the instance metadata service and the VPC resolver) need
 * to know about the VPC, read from the cloud's committed state. The services run in the router
 * namespace, in their own process; this interface keeps them independent of how state is stored.
 */

/** One network interface of an instance, as the metadata service's `network/interfaces/macs/<mac>/` tree shows it. */
export interface InterfaceMetadata {
  readonly mac: string;
  readonly deviceNumber: number;
  readonly networkCardIndex: number;
  readonly interfaceId: string;
  readonly ownerId: string;
  /** Private IPv4 addresses, the primary first. */
  readonly localIpv4s: readonly string[];
  readonly ipv6s: readonly string[];
  readonly localHostname: string;
  readonly subnetId: string;
  readonly subnetIpv4CidrBlock: string;
  readonly vpcId: string;
  readonly vpcIpv4CidrBlocks: readonly string[];
  readonly securityGroupIds: readonly string[];
  readonly securityGroupNames: readonly string[];
}

/** The role an instance profile holds, and the key pair its credentials carry. */
export interface RoleKeys {
  readonly roleName: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** The instance a request came from, with what its metadata tree shows. */
export interface InstanceMetadata {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly imageId: string;
  readonly amiLaunchIndex: number;
  readonly reservationId: string;
  readonly accountId: string;
  readonly region: string;
  readonly availabilityZone: string;
  readonly availabilityZoneId: string;
  /** ISO 8601 launch time. */
  readonly launchTime: string;
  /** The primary private IPv4 address. */
  readonly privateIp: string;
  /** `ip-192-168-1-10.us-west-2.compute.internal`. */
  readonly privateDnsName: string;
  /** Interfaces in device-number order (the primary, device 0, first). */
  readonly interfaces: readonly InterfaceMetadata[];
  /** Names of the primary interface's groups (`security-groups`). */
  readonly securityGroupNames: readonly string[];
  /** `arn:aws:iam::<account>:instance-profile/<name>` when the instance has one. */
  readonly iamInstanceProfileArn?: string;
  readonly iamInstanceProfileId?: string;
  /** The profile's role and keys (`iam/security-credentials/<role>`); absent without a profile. */
  readonly iamRole?: RoleKeys;
  readonly tags: Readonly<Record<string, string>>;
}

export interface NameAddresses {
  readonly v4: readonly string[];
  readonly v6: readonly string[];
}

export interface VpcDirectory {
  /**
   * The instance whose interface holds `address` (primary or secondary, of any of its ENIs, or of
   * a branch ENI associated with one of its trunks); undefined for anything else.
   */
  instanceByAddress(address: string): InstanceMetadata | undefined;
  /**
   * The addresses of a fully qualified name (lower case, without the trailing dot) in a zone the
   * VPC resolver is authoritative for; `undefined` when the name is not in such a zone.
   */
  resolveName(name: string): NameAddresses | undefined;
  /** True when `name` (lower case, no trailing dot) lies in a zone the resolver answers for. */
  isAuthoritativeFor(name: string): boolean;
}
