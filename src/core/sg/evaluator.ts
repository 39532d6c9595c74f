/**
 * Decides whether a new flow between two addresses is allowed by security groups, and says why.
 *
 * As in a VPC: the source interface's egress rules and the destination interface's ingress rules
 * are two independent gates; a new flow needs both. An address on no interface is an outside host,
 * so only the interface side's gate applies. Groups on one interface are a union; rules only allow.
 * Replies of an allowed flow are allowed by connection tracking (or, for untracked flows, by the
 * open rules that made them untracked), so a reply is never a separate question here.
 */
import { InputError } from '../errors.js';
import { cidrContains, isAnyCidr, type IpAddress } from '../net/ip-address.js';
import { hasPorts, isIcmp, protocolNumbers, type Protocol } from './protocol.js';
import type { Direction, PortMatch, SecurityGroupRule } from './rule.js';
import type { NetworkInterface, World } from './world.js';

export interface Flow {
  readonly source: IpAddress;
  readonly destination: IpAddress;
  /** A protocol number, or `all` to ask whether every protocol and port is allowed. */
  readonly protocol: Protocol;
  /** Destination port, for tcp and udp. */
  readonly port?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
}

export type GateDecision = 'allow' | 'deny' | 'not-applicable' | 'exempt';

export type GateReason =
  | 'rule-matched'
  | 'no-rule-matched'
  | 'outside-host'
  | 'same-interface'
  | 'link-local-service'
  | 'vpc-resolver';

export type Mismatch = 'protocol' | 'port' | 'peer';

/** A rule that would have allowed the flow but for one thing. */
export interface NearMiss {
  readonly rule: SecurityGroupRule;
  readonly mismatch: Mismatch;
}

export interface GateResult {
  readonly gate: Direction;
  readonly decision: GateDecision;
  readonly reason: GateReason;
  /** The interface the gate belongs to (absent for an outside host). */
  readonly networkInterface?: NetworkInterface;
  /** The address the rules' peers are matched against (destination for egress, source for ingress). */
  readonly peerAddress: IpAddress;
  /** Every rule that allows the flow, in group order then rule order; the first one decides. */
  readonly allowedBy: readonly SecurityGroupRule[];
  /** For a denial: rules that fail on exactly one of protocol, port, peer. */
  readonly nearMisses: readonly NearMiss[];
  /** Whether an allowed tcp/udp flow is tracked; untracked flows end when their rule goes. */
  readonly tracking?: 'tracked' | 'untracked';
  /** Groups of the interface that the world does not describe (their rules are unknown). */
  readonly unknownGroupIds: readonly string[];
  /** Prefix lists referenced by the interface's rules whose entries are unknown. */
  readonly unknownPrefixListIds: readonly string[];
}

export interface Evaluation {
  readonly verdict: 'allow' | 'deny';
  readonly flow: Flow;
  readonly egress: GateResult;
  readonly ingress: GateResult;
}

function emptyGate(
  gate: Direction,
  decision: GateDecision,
  reason: GateReason,
  peerAddress: IpAddress,
  networkInterface?: NetworkInterface,
): GateResult {
  return {
    gate,
    decision,
    reason,
    peerAddress,
    ...(networkInterface ? { networkInterface } : {}),
    allowedBy: [],
    nearMisses: [],
    unknownGroupIds: [],
    unknownPrefixListIds: [],
  };
}

function portsMatch(ports: PortMatch, flow: Flow): boolean {
  switch (ports.kind) {
    case 'all':
      return true;
    case 'range':
      return flow.port !== undefined && flow.port >= ports.from && flow.port <= ports.to;
    case 'icmp':
      return (
        (ports.type === -1 || ports.type === flow.icmpType) &&
        (ports.code === -1 || ports.code === flow.icmpCode)
      );
  }
}

class GateEvaluator {
  readonly unknownPrefixListIds = new Set<string>();

  constructor(
    private readonly world: World,
    private readonly peerAddress: IpAddress,
  ) {}

  peerMatches(rule: SecurityGroupRule): boolean {
    const peer = rule.peer;
    switch (peer.kind) {
      case 'cidr':
        return cidrContains(peer.cidr, this.peerAddress);
      case 'group':
        return this.world.isMember(this.peerAddress, peer.groupId);
      case 'prefix-list': {
        const list = this.world.prefixList(peer.prefixListId);
        if (!list) {
          this.unknownPrefixListIds.add(peer.prefixListId);
          return false;
        }
        return list.cidrs.some((cidr) => cidrContains(cidr, this.peerAddress));
      }
    }
  }
}

function rulesOfInterface(
  world: World,
  eni: NetworkInterface,
  direction: Direction,
  protocols?: readonly Protocol[],
): SecurityGroupRule[] {
  const rules: SecurityGroupRule[] = [];
  for (const groupId of eni.groupIds) {
    const buckets = world.rulesOf(groupId, direction);
    if (protocols) {
      for (const protocol of protocols) rules.push(...(buckets.get(protocol) ?? []));
    } else {
      for (const bucket of buckets.values()) rules.push(...bucket);
    }
  }
  return rules;
}

function nearMissesOf(
  rules: readonly SecurityGroupRule[],
  flow: Flow,
  evaluator: GateEvaluator,
): NearMiss[] {
  const misses: NearMiss[] = [];
  for (const rule of rules) {
    const protocolOk = rule.protocol === 'all' || rule.protocol === flow.protocol;
    const portOk = protocolOk && portsMatch(rule.ports, flow);
    const peerOk = evaluator.peerMatches(rule);
    if (portOk && !peerOk) misses.push({ rule, mismatch: 'peer' });
    else if (peerOk && protocolOk && !portOk) misses.push({ rule, mismatch: 'port' });
    else if (peerOk && !protocolOk) misses.push({ rule, mismatch: 'protocol' });
  }
  return misses;
}

/** Whether the rules cover every port (or ICMP type and code) of one protocol. */
function coversProtocol(rules: readonly SecurityGroupRule[], protocol: number): boolean {
  const own = rules.filter((rule) => rule.protocol === protocol);
  if (hasPorts(protocol)) {
    const ranges = own
      .flatMap((rule) => (rule.ports.kind === 'range' ? [rule.ports] : []))
      .sort((a, b) => a.from - b.from);
    let next = 0;
    for (const range of ranges) {
      if (range.from > next) return false;
      next = Math.max(next, range.to + 1);
    }
    return next > 65535;
  }
  if (isIcmp(protocol)) {
    const codesByType = new Map<number, Set<number>>();
    for (const rule of own) {
      if (rule.ports.kind !== 'icmp') continue;
      if (rule.ports.type === -1) return true;
      const codes = codesByType.get(rule.ports.type) ?? new Set<number>();
      codes.add(rule.ports.code);
      codesByType.set(rule.ports.type, codes);
    }
    for (let type = 0; type <= 255; type++) {
      const codes = codesByType.get(type);
      if (!codes || (!codes.has(-1) && codes.size < 256)) return false;
    }
    return true;
  }
  return own.length > 0;
}

function allowingRulesForAll(rules: readonly SecurityGroupRule[]): SecurityGroupRule[] {
  const allProtocol = rules.filter((rule) => rule.protocol === 'all');
  if (allProtocol.length > 0) return allProtocol;
  for (let protocol = 0; protocol <= 255; protocol++) {
    if (!coversProtocol(rules, protocol)) return [];
  }
  return [...rules];
}

/** The response direction of an untracked flow needs an open rule for all its ports. */
function opensAllResponses(rule: SecurityGroupRule, protocol: Protocol, family: 4 | 6): boolean {
  if (rule.peer.kind !== 'cidr' || !isAnyCidr(rule.peer.cidr) || rule.peer.cidr.family !== family) {
    return false;
  }
  if (rule.protocol === 'all') return true;
  return (
    rule.protocol === protocol &&
    rule.ports.kind === 'range' &&
    rule.ports.from === 0 &&
    rule.ports.to === 65535
  );
}

function trackingOf(
  world: World,
  eni: NetworkInterface,
  gate: Direction,
  flow: Flow,
  allowedBy: readonly SecurityGroupRule[],
): 'tracked' | 'untracked' {
  if (flow.protocol !== protocolNumbers.tcp && flow.protocol !== protocolNumbers.udp) {
    return 'tracked';
  }
  const openInGate = allowedBy.some(
    (rule) => rule.peer.kind === 'cidr' && isAnyCidr(rule.peer.cidr),
  );
  if (!openInGate) return 'tracked';
  const opposite: Direction = gate === 'egress' ? 'ingress' : 'egress';
  const family = flow.source.family;
  const responsesOpen = rulesOfInterface(world, eni, opposite, [flow.protocol, 'all']).some(
    (rule) => opensAllResponses(rule, flow.protocol, family),
  );
  return responsesOpen ? 'untracked' : 'tracked';
}

/** Evaluates one gate: `eni`'s rules in `gate` direction against the flow. */
export function evaluateGate(
  world: World,
  eni: NetworkInterface,
  gate: Direction,
  flow: Flow,
): GateResult {
  const peerAddress = gate === 'egress' ? flow.destination : flow.source;
  const evaluator = new GateEvaluator(world, peerAddress);
  const unknownGroupIds = eni.groupIds.filter((groupId) => world.group(groupId) === undefined);
  let allowedBy: SecurityGroupRule[];
  if (flow.protocol === 'all') {
    const peerMatching = rulesOfInterface(world, eni, gate).filter((rule) =>
      evaluator.peerMatches(rule),
    );
    allowedBy = allowingRulesForAll(peerMatching);
  } else {
    allowedBy = rulesOfInterface(world, eni, gate, [flow.protocol, 'all']).filter(
      (rule) =>
        (rule.protocol === 'all' || portsMatch(rule.ports, flow)) && evaluator.peerMatches(rule),
    );
  }
  const allowed = allowedBy.length > 0;
  const nearMisses = allowed
    ? []
    : nearMissesOf(rulesOfInterface(world, eni, gate), flow, evaluator);
  return {
    gate,
    decision: allowed ? 'allow' : 'deny',
    reason: allowed ? 'rule-matched' : 'no-rule-matched',
    networkInterface: eni,
    peerAddress,
    allowedBy,
    nearMisses,
    ...(allowed ? { tracking: trackingOf(world, eni, gate, flow, allowedBy) } : {}),
    unknownGroupIds,
    unknownPrefixListIds: [...evaluator.unknownPrefixListIds],
  };
}

function assertFlowShape(flow: Flow): void {
  if (flow.source.family !== flow.destination.family) {
    throw new InputError(
      `source ${flow.source.text} and destination ${flow.destination.text} are of different IP families`,
    );
  }
  if (flow.protocol !== 'all' && hasPorts(flow.protocol) && flow.port === undefined) {
    throw new InputError('a tcp or udp flow needs a destination port');
  }
  if (flow.protocol !== 'all' && isIcmp(flow.protocol) && flow.icmpType === undefined) {
    throw new InputError('an icmp or icmpv6 flow needs an ICMP type');
  }
}

function isDnsFlow(flow: Flow): boolean {
  return (
    (flow.protocol === protocolNumbers.udp || flow.protocol === protocolNumbers.tcp) &&
    flow.port === 53
  );
}

/** Evaluates a new flow. Throws `InputError` when neither address is on an interface. */
export function evaluateFlow(world: World, flow: Flow): Evaluation {
  assertFlowShape(flow);
  const sourceEni = world.interfaceAt(flow.source);
  const destinationEni = world.interfaceAt(flow.destination);
  if (!sourceEni && !destinationEni) {
    throw new InputError(
      `neither ${flow.source.text} nor ${flow.destination.text} is an address of a known network interface`,
    );
  }
  const { source, destination } = flow;
  if (sourceEni && sourceEni === destinationEni) {
    return {
      verdict: 'allow',
      flow,
      egress: emptyGate('egress', 'not-applicable', 'same-interface', destination, sourceEni),
      ingress: emptyGate('ingress', 'not-applicable', 'same-interface', source, destinationEni),
    };
  }
  const exemptReason: GateReason | undefined = world.isExemptService(destination)
    ? 'link-local-service'
    : world.isVpcResolver(destination) && isDnsFlow(flow)
      ? 'vpc-resolver'
      : undefined;
  if (exemptReason) {
    return {
      verdict: 'allow',
      flow,
      egress: emptyGate('egress', 'exempt', exemptReason, destination, sourceEni),
      ingress: emptyGate('ingress', 'not-applicable', 'outside-host', source),
    };
  }
  const egress = sourceEni
    ? evaluateGate(world, sourceEni, 'egress', flow)
    : emptyGate('egress', 'not-applicable', 'outside-host', destination);
  const ingress = destinationEni
    ? evaluateGate(world, destinationEni, 'ingress', flow)
    : emptyGate('ingress', 'not-applicable', 'outside-host', source);
  const verdict = egress.decision === 'deny' || ingress.decision === 'deny' ? 'deny' : 'allow';
  return { verdict, flow, egress, ingress };
}
