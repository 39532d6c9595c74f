/**
 * Sentences about an evaluation, shared by the text and JSON forms of `sgpods explain`:
 * a rule as people read it, why a near miss missed, and one summary line per gate.
 */
import type { IpAddress } from '../../core/net/ip-address.js';
import type { Evaluation, Flow, GateResult, NearMiss } from '../../core/sg/evaluator.js';
import { formatProtocol } from '../../core/sg/protocol.js';
import { formatRuleTraffic, type SecurityGroupRule } from '../../core/sg/rule.js';
import type { NetworkInterface, World } from '../../core/sg/world.js';

export function groupLabel(world: World, groupId: string): string {
  const name = world.group(groupId)?.groupName;
  return name && name !== groupId ? `${groupId} (${name})` : groupId;
}

/** `eni-… "description", groups sg-… (NAME), …`: an interface as explain names it. */
export function interfaceLabel(world: World, eni: NetworkInterface): string {
  const groups = eni.groupIds.map((id) => groupLabel(world, id)).join(', ') || 'none';
  return `${eni.networkInterfaceId}${eni.description ? ` "${eni.description}"` : ''}, groups ${groups}`;
}

function peerLabel(world: World, rule: SecurityGroupRule): string {
  const peer = rule.peer;
  switch (peer.kind) {
    case 'cidr':
      return peer.cidr.text;
    case 'group':
      return groupLabel(world, peer.groupId);
    case 'prefix-list':
      return peer.prefixListId;
  }
}

/** `sg-… (RDS_SG) ingress: tcp 5432 from sg-… (POD_SG)`. */
export function describeRule(world: World, rule: SecurityGroupRule): string {
  const direction = rule.direction === 'ingress' ? 'from' : 'to';
  const id = rule.ruleId ? ` ${rule.ruleId}` : '';
  const description = rule.description ? ` "${rule.description}"` : '';
  return `${groupLabel(world, rule.groupId)} ${rule.direction}${id}: ${formatRuleTraffic(rule)} ${direction} ${peerLabel(world, rule)}${description}`;
}

export function describeTraffic(flow: Flow): string {
  if (flow.protocol === 'all') return 'all traffic';
  const name = formatProtocol(flow.protocol);
  if (flow.port !== undefined) return `${name} port ${flow.port}`;
  if (flow.icmpType !== undefined)
    return `${name} type ${flow.icmpType} code ${flow.icmpCode ?? 0}`;
  return name;
}

function whereIs(world: World, address: IpAddress): string {
  const eni = world.interfaceAt(address);
  if (!eni) return `${address.text} is on no known interface`;
  const groups = eni.groupIds.map((groupId) => groupLabel(world, groupId)).join(', ');
  return `${address.text} is on ${eni.networkInterfaceId} (groups ${groups || 'none'})`;
}

/** Why a rule that nearly matched did not. */
export function describeMiss(world: World, gate: GateResult, miss: NearMiss, flow: Flow): string {
  const { rule } = miss;
  const address = gate.peerAddress;
  if (miss.mismatch === 'protocol') {
    return `the rule is for ${formatRuleTraffic(rule)}, the flow is ${describeTraffic(flow)}`;
  }
  if (miss.mismatch === 'port') {
    return `the rule covers ${formatRuleTraffic(rule)}, the flow is ${describeTraffic(flow)}`;
  }
  const peer = rule.peer;
  switch (peer.kind) {
    case 'cidr':
      return `${address.text} is not in ${peer.cidr.text}`;
    case 'group':
      return `${address.text} is not a private IP of an interface carrying ${groupLabel(world, peer.groupId)}: ${whereIs(world, address)}`;
    case 'prefix-list':
      return world.prefixList(peer.prefixListId)
        ? `${address.text} is in no entry of ${peer.prefixListId}`
        : `the entries of ${peer.prefixListId} are unknown (pass --prefix-lists)`;
  }
}

/** One line that says what the gate decided and why. */
export function summarizeGate(world: World, gate: GateResult, flow: Flow): string {
  const direction = gate.gate === 'egress' ? 'to' : 'from';
  switch (gate.reason) {
    case 'rule-matched': {
      const [first, ...others] = gate.allowedBy;
      const more = others.length > 0 ? ` (and ${others.length} more)` : '';
      return first ? `allowed by ${describeRule(world, first)}${more}` : 'allowed';
    }
    case 'no-rule-matched': {
      const groups = (gate.networkInterface?.groupIds ?? [])
        .map((groupId) => groupLabel(world, groupId))
        .join(', ');
      return `no ${gate.gate} rule of ${groups || 'its (no) groups'} allows ${describeTraffic(flow)} ${direction} ${gate.peerAddress.text}`;
    }
    case 'outside-host':
      return `${gate.gate === 'egress' ? flow.source.text : flow.destination.text} is on no known interface: an outside host, so no ${gate.gate} gate applies`;
    case 'same-interface':
      return 'source and destination are on the same interface: the traffic never leaves it';
    case 'link-local-service':
      return `${flow.destination.text} is a link-local service (DNS, metadata, time), which security groups do not filter`;
    case 'vpc-resolver':
      return `${flow.destination.text} is the VPC's Amazon-provided DNS resolver, which security groups do not filter`;
  }
}

export function verdictWord(evaluation: Evaluation): 'ALLOWED' | 'DENIED' {
  return evaluation.verdict === 'allow' ? 'ALLOWED' : 'DENIED';
}
