/**
 * A world to evaluate flows in: security groups, network interfaces, prefix lists. Indexed once
 * (address -> interface, group -> rules per direction and protocol) so a query looks only at the
 * rules of the two interfaces involved, never at every rule.
 */
import { InputError } from '../errors.js';
import { nthAddress, parseIpAddress, type Cidr, type IpAddress } from '../net/ip-address.js';
import type { Protocol } from './protocol.js';
import type { Direction, SecurityGroupRule } from './rule.js';
import type { SecurityGroup } from './security-group.js';

export interface NetworkInterface {
  readonly networkInterfaceId: string;
  /** Every private IPv4 (primary and secondary) and every IPv6 address of the interface. */
  readonly addresses: readonly IpAddress[];
  /** Group ids in the order EC2 lists them. */
  readonly groupIds: readonly string[];
  readonly description?: string;
  readonly interfaceType?: string;
  readonly vpcId?: string;
}

export interface PrefixList {
  readonly prefixListId: string;
  readonly cidrs: readonly Cidr[];
}

export interface WorldInput {
  readonly groups: readonly SecurityGroup[];
  readonly networkInterfaces: readonly NetworkInterface[];
  readonly prefixLists?: readonly PrefixList[];
  /** VPC CIDRs; base+2 of each is the Amazon-provided DNS resolver, which groups never filter. */
  readonly vpcCidrs?: readonly Cidr[];
}

export type RulesByProtocol = ReadonlyMap<Protocol, readonly SecurityGroupRule[]>;

interface IndexedGroup {
  readonly group: SecurityGroup;
  readonly rules: Record<Direction, RulesByProtocol>;
}

/** Link-local services that security groups never see (DNS, instance metadata, time sync). */
const linkLocalServices = [
  '169.254.169.253',
  '169.254.169.254',
  '169.254.169.123',
  'fd00:ec2::253',
  'fd00:ec2::254',
  'fd00:ec2::123',
];

function bucketByProtocol(rules: readonly SecurityGroupRule[]): RulesByProtocol {
  const buckets = new Map<Protocol, SecurityGroupRule[]>();
  for (const rule of rules) {
    const bucket = buckets.get(rule.protocol);
    if (bucket) bucket.push(rule);
    else buckets.set(rule.protocol, [rule]);
  }
  return buckets;
}

export class World {
  readonly #interfacesByAddress = new Map<string, NetworkInterface>();
  readonly #interfacesById = new Map<string, NetworkInterface>();
  readonly #groups = new Map<string, IndexedGroup>();
  readonly #prefixLists = new Map<string, PrefixList>();
  readonly #exemptAddresses = new Set<string>();
  readonly #resolverAddresses = new Set<string>();

  constructor(input: WorldInput) {
    for (const group of input.groups) {
      if (this.#groups.has(group.groupId)) {
        throw new InputError(`security group ${group.groupId} is listed twice`);
      }
      const byDirection = (direction: Direction): RulesByProtocol =>
        bucketByProtocol(group.rules.filter((rule) => rule.direction === direction));
      this.#groups.set(group.groupId, {
        group,
        rules: { ingress: byDirection('ingress'), egress: byDirection('egress') },
      });
    }
    for (const eni of input.networkInterfaces) this.#addInterface(eni);
    for (const list of input.prefixLists ?? []) this.#prefixLists.set(list.prefixListId, list);
    for (const text of linkLocalServices) {
      const address = parseIpAddress(text);
      if (address) this.#exemptAddresses.add(address.text);
    }
    for (const cidr of input.vpcCidrs ?? []) {
      if (cidr.family === 4) this.#resolverAddresses.add(nthAddress(cidr, 2).text);
    }
  }

  #addInterface(eni: NetworkInterface): void {
    if (this.#interfacesById.has(eni.networkInterfaceId)) {
      throw new InputError(`network interface ${eni.networkInterfaceId} is listed twice`);
    }
    this.#interfacesById.set(eni.networkInterfaceId, eni);
    for (const address of eni.addresses) {
      const other = this.#interfacesByAddress.get(address.text);
      if (other && other !== eni) {
        throw new InputError(
          `address ${address.text} is on both ${other.networkInterfaceId} and ${eni.networkInterfaceId}`,
        );
      }
      this.#interfacesByAddress.set(address.text, eni);
    }
  }

  interfaceAt(address: IpAddress): NetworkInterface | undefined {
    return this.#interfacesByAddress.get(address.text);
  }

  interfaceById(id: string): NetworkInterface | undefined {
    return this.#interfacesById.get(id);
  }

  group(groupId: string): SecurityGroup | undefined {
    return this.#groups.get(groupId)?.group;
  }

  /** Rules of `groupId` in `direction`, bucketed by protocol; empty for unknown groups. */
  rulesOf(groupId: string, direction: Direction): RulesByProtocol {
    return this.#groups.get(groupId)?.rules[direction] ?? new Map();
  }

  prefixList(prefixListId: string): PrefixList | undefined {
    return this.#prefixLists.get(prefixListId);
  }

  /** True when `address` is a private IP of an interface that carries `groupId`. */
  isMember(address: IpAddress, groupId: string): boolean {
    return this.interfaceAt(address)?.groupIds.includes(groupId) ?? false;
  }

  /** Addresses security groups never filter: link-local services for any flow. */
  isExemptService(address: IpAddress): boolean {
    return this.#exemptAddresses.has(address.text);
  }

  /** True when `address` is a VPC's Amazon-provided DNS resolver (VPC base + 2). */
  isVpcResolver(address: IpAddress): boolean {
    return this.#resolverAddresses.has(address.text);
  }
}
