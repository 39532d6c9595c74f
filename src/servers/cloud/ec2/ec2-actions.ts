/** The EC2 actions the local cloud serves. docs/aws-coverage.md lists them (a test checks). */
import type { Ec2Handler } from './ec2-context.js';
import { describeAvailabilityZones } from './availability-zones.js';
import { describeImages, describeInstanceTypes } from './instance-types.js';
import { describeInstances, runInstances, terminateInstances } from './instances.js';
import {
  assignPrivateIpAddresses,
  attachNetworkInterface,
  createNetworkInterface,
  createNetworkInterfacePermission,
  deleteNetworkInterface,
  deleteNetworkInterfacePermission,
  describeNetworkInterfacePermissions,
  describeNetworkInterfaces,
  detachNetworkInterface,
  modifyNetworkInterfaceAttribute,
  unassignPrivateIpAddresses,
} from './network-interfaces.js';
import {
  createManagedPrefixList,
  deleteManagedPrefixList,
  describeManagedPrefixLists,
  getManagedPrefixListEntries,
  modifyManagedPrefixList,
} from './prefix-lists.js';
import {
  authorizeSecurityGroupEgress,
  authorizeSecurityGroupIngress,
  describeSecurityGroupRules,
  modifySecurityGroupRules,
  revokeSecurityGroupEgress,
  revokeSecurityGroupIngress,
} from './security-group-rules.js';
import {
  createSecurityGroup,
  deleteSecurityGroup,
  describeSecurityGroups,
} from './security-groups.js';
import { createTags, deleteTags, describeTags } from './tags.js';
import {
  associateTrunkInterface,
  describeTrunkInterfaceAssociations,
  disassociateTrunkInterface,
} from './trunk-associations.js';
import { describeSubnets, describeVpcs } from './vpcs.js';

export const ec2Actions: Readonly<Record<string, Ec2Handler>> = {
  DescribeAvailabilityZones: (params, context) => describeAvailabilityZones(params, context.region),
  DescribeVpcs: describeVpcs,
  DescribeSubnets: describeSubnets,
  CreateSecurityGroup: createSecurityGroup,
  DeleteSecurityGroup: deleteSecurityGroup,
  DescribeSecurityGroups: describeSecurityGroups,
  AuthorizeSecurityGroupIngress: authorizeSecurityGroupIngress,
  AuthorizeSecurityGroupEgress: authorizeSecurityGroupEgress,
  RevokeSecurityGroupIngress: revokeSecurityGroupIngress,
  RevokeSecurityGroupEgress: revokeSecurityGroupEgress,
  DescribeSecurityGroupRules: describeSecurityGroupRules,
  ModifySecurityGroupRules: modifySecurityGroupRules,
  CreateTags: createTags,
  DeleteTags: deleteTags,
  DescribeTags: describeTags,
  CreateManagedPrefixList: createManagedPrefixList,
  DescribeManagedPrefixLists: describeManagedPrefixLists,
  GetManagedPrefixListEntries: getManagedPrefixListEntries,
  ModifyManagedPrefixList: modifyManagedPrefixList,
  DeleteManagedPrefixList: deleteManagedPrefixList,
  RunInstances: runInstances,
  TerminateInstances: terminateInstances,
  DescribeInstances: describeInstances,
  DescribeInstanceTypes: (params) => describeInstanceTypes(params),
  DescribeImages: describeImages,
  CreateNetworkInterface: createNetworkInterface,
  DeleteNetworkInterface: deleteNetworkInterface,
  DescribeNetworkInterfaces: describeNetworkInterfaces,
  AttachNetworkInterface: attachNetworkInterface,
  DetachNetworkInterface: detachNetworkInterface,
  ModifyNetworkInterfaceAttribute: modifyNetworkInterfaceAttribute,
  AssignPrivateIpAddresses: assignPrivateIpAddresses,
  UnassignPrivateIpAddresses: unassignPrivateIpAddresses,
  CreateNetworkInterfacePermission: createNetworkInterfacePermission,
  DescribeNetworkInterfacePermissions: describeNetworkInterfacePermissions,
  DeleteNetworkInterfacePermission: deleteNetworkInterfacePermission,
  AssociateTrunkInterface: associateTrunkInterface,
  DisassociateTrunkInterface: disassociateTrunkInterface,
  DescribeTrunkInterfaceAssociations: describeTrunkInterfaceAssociations,
};
