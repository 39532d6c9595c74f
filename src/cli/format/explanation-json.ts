/**
 * The JSON form of `sgpods explain`: `verdict`, `flow`, `egress`, `ingress`. Rules use the
 * lowerCamel spelling of EC2's `SecurityGroupRule` fields (as on EC2's XML wire).
 */
import type { Evaluation, GateResult } from '../../core/sg/evaluator.js';
import { formatProtocol } from '../../core/sg/protocol.js';
import type { SecurityGroupRule } from '../../core/sg/rule.js';
import type { World } from '../../core/sg/world.js';
import { describeMiss, summarizeGate } from './explanation-sentences.js';

type JsonObject = Record<string, unknown>;

export function ruleJson(world: World, rule: SecurityGroupRule): JsonObject {
  const ports =
    rule.ports.kind === 'range'
      ? { fromPort: rule.ports.from, toPort: rule.ports.to }
      : rule.ports.kind === 'icmp'
        ? { fromPort: rule.ports.type, toPort: rule.ports.code }
        : {};
  const peer = rule.peer;
  const peerField =
    peer.kind === 'cidr'
      ? { [peer.cidr.family === 4 ? 'cidrIpv4' : 'cidrIpv6']: peer.cidr.text }
      : peer.kind === 'group'
        ? { referencedGroupId: peer.groupId }
        : { prefixListId: peer.prefixListId };
  return {
    ...(rule.ruleId ? { securityGroupRuleId: rule.ruleId } : {}),
    groupId: rule.groupId,
    groupName: world.group(rule.groupId)?.groupName,
    isEgress: rule.direction === 'egress',
    ipProtocol: formatProtocol(rule.protocol),
    ...ports,
    ...peerField,
    ...(rule.description ? { description: rule.description } : {}),
  };
}

function gateJson(world: World, evaluation: Evaluation, gate: GateResult): JsonObject {
  const eni = gate.networkInterface;
  return {
    decision: gate.decision,
    reason: gate.reason,
    summary: summarizeGate(world, gate, evaluation.flow),
    networkInterfaceId: eni?.networkInterfaceId ?? null,
    groups: (eni?.groupIds ?? []).map((groupId) => ({
      groupId,
      groupName: world.group(groupId)?.groupName,
    })),
    peerAddress: gate.peerAddress.text,
    allowedBy: gate.allowedBy.map((rule) => ruleJson(world, rule)),
    nearMisses: gate.nearMisses.map((miss) => ({
      rule: ruleJson(world, miss.rule),
      mismatch: miss.mismatch,
      detail: describeMiss(world, gate, miss, evaluation.flow),
    })),
    tracking: gate.tracking ?? null,
    unknownGroupIds: gate.unknownGroupIds,
    unknownPrefixListIds: gate.unknownPrefixListIds,
  };
}

export function explanationJson(world: World, evaluation: Evaluation): JsonObject {
  const { flow } = evaluation;
  return {
    verdict: evaluation.verdict,
    flow: {
      source: flow.source.text,
      destination: flow.destination.text,
      protocol: formatProtocol(flow.protocol),
      ...(flow.port === undefined ? {} : { port: flow.port }),
      ...(flow.icmpType === undefined
        ? {}
        : { icmpType: flow.icmpType, icmpCode: flow.icmpCode ?? 0 }),
    },
    egress: gateJson(world, evaluation, evaluation.egress),
    ingress: gateJson(world, evaluation, evaluation.ingress),
  };
}
