/**
 * The evaluator's world from the cloud's committed state: every group with its rules, every
 * interface with its addresses and groups, prefix lists and VPC CIDRs — what `sgpods explain`
 * judges a live flow in, the same model the dataplane enforces.
 */
import { parseCidr, parseIpAddress, type IpAddress } from '../../../core/net/ip-address.js';
import { World, type NetworkInterface, type PrefixList } from '../../../core/sg/world.js';
import type { Ec2Store } from './ec2-store.js';

export function worldOfStore(store: Ec2Store): World {
  const groupsOf = store.compute.interfaceGroups();
  const addressesOf = store.compute.addresses();
  const networkInterfaces: NetworkInterface[] = store.compute.networkInterfaces().map((row) => ({
    networkInterfaceId: row.networkInterfaceId,
    addresses: (addressesOf.get(row.networkInterfaceId) ?? [])
      .slice()
      .sort((a, b) => Number(b.primary) - Number(a.primary))
      .map((item) => parseIpAddress(item.address))
      .filter((address): address is IpAddress => address !== undefined),
    groupIds: groupsOf.get(row.networkInterfaceId) ?? [],
    description: row.description,
    interfaceType: row.interfaceType,
    vpcId: row.vpcId,
  }));
  const prefixLists: PrefixList[] = store.prefixLists().map((list) => ({
    prefixListId: list.prefixListId,
    cidrs: store
      .entriesOf(list.prefixListId)
      .map((entry) => parseCidr(entry.cidr)?.cidr)
      .filter((cidr) => cidr !== undefined),
  }));
  const vpcCidrs = store
    .vpcs()
    .map((vpc) => parseCidr(vpc.cidrBlock)?.cidr)
    .filter((cidr) => cidr !== undefined);
  return new World({ groups: store.securityGroups(), networkInterfaces, prefixLists, vpcCidrs });
}
