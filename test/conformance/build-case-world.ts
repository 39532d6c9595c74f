/** Turns a case of security-group-cases.ts into core objects: ids, rules, a World, flows. */
import { parseCidr, parseIpAddress, type IpAddress } from '../../src/core/net/ip-address.js';
import type { Flow } from '../../src/core/sg/evaluator.js';
import { parseProtocol } from '../../src/core/sg/protocol.js';
import { normalizeRule, type RuleSpec, type SecurityGroupRule } from '../../src/core/sg/rule.js';
import { newGroupRules, type SecurityGroup } from '../../src/core/sg/security-group.js';
import { World, type NetworkInterface, type WorldInput } from '../../src/core/sg/world.js';
import type { CaseCheck, SecurityGroupCase } from './security-group-cases.js';

export function caseGroupId(aliases: readonly string[], alias: string): string {
  const index = aliases.indexOf(alias);
  if (index < 0) throw new Error(`unknown group alias ${alias}`);
  return `sg-${(index + 1).toString(16).padStart(17, '0')}`;
}

export function caseInterfaceId(index: number): string {
  return `eni-${(index + 1).toString(16).padStart(17, '0')}`;
}

function address(text: string): IpAddress {
  const parsed = parseIpAddress(text);
  if (!parsed) throw new Error(`bad address ${text}`);
  return parsed;
}

export function buildCaseWorldInput(testCase: SecurityGroupCase): WorldInput {
  const aliases = Object.keys(testCase.groups);
  const idOf = (alias: string): string => caseGroupId(aliases, alias);
  const resolve = (spec: RuleSpec): RuleSpec =>
    spec.referencedGroupId ? { ...spec, referencedGroupId: idOf(spec.referencedGroupId) } : spec;
  const groups: SecurityGroup[] = Object.entries(testCase.groups).map(([alias, group]) => {
    const groupId = idOf(alias);
    const ingress = (group.ingress ?? []).map((spec) =>
      normalizeRule(groupId, 'ingress', resolve(spec)),
    );
    const egress: SecurityGroupRule[] = group.egress
      ? group.egress.map((spec) => normalizeRule(groupId, 'egress', resolve(spec)))
      : newGroupRules(groupId);
    return { groupId, groupName: alias, rules: [...ingress, ...egress] };
  });
  const networkInterfaces: NetworkInterface[] = Object.entries(testCase.interfaces).map(
    ([alias, eni], index) => ({
      networkInterfaceId: caseInterfaceId(index),
      description: alias,
      addresses: eni.addresses.map(address),
      groupIds: eni.groups.map(idOf),
    }),
  );
  const prefixLists = Object.entries(testCase.prefixLists ?? {}).map(([prefixListId, cidrs]) => ({
    prefixListId,
    cidrs: cidrs.map((cidr) => {
      const parsed = parseCidr(cidr);
      if (!parsed) throw new Error(`bad cidr ${cidr}`);
      return parsed.cidr;
    }),
  }));
  const vpcCidrs = (testCase.vpcCidrs ?? []).map((cidr) => {
    const parsed = parseCidr(cidr);
    if (!parsed) throw new Error(`bad cidr ${cidr}`);
    return parsed.cidr;
  });
  return { groups, networkInterfaces, prefixLists, vpcCidrs };
}

export function buildCaseWorld(testCase: SecurityGroupCase): World {
  return new World(buildCaseWorldInput(testCase));
}

export function caseFlow(check: CaseCheck): Flow {
  return {
    source: address(check.from),
    destination: address(check.to),
    protocol: parseProtocol(check.protocol),
    ...(check.port === undefined ? {} : { port: check.port }),
    ...(check.icmpType === undefined ? {} : { icmpType: check.icmpType }),
    ...(check.icmpCode === undefined ? {} : { icmpCode: check.icmpCode }),
  };
}
