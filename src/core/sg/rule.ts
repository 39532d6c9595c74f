/**
 * The security-group rule model: one rule = one direction, one protocol, one port range (or ICMP
 * type/code), one peer. EC2's `IpPermission` (several peers at once) expands into several rules;
 * that expansion lives at the wire edge. Normalisation here is what EC2 does on Authorize:
 * aliases resolved, ports checked, CIDRs canonicalised; the errors are EC2's.
 */
import { Ec2RequestError } from '../errors.js';
import { parseCidr, type Cidr } from '../net/ip-address.js';
import { formatProtocol, hasPorts, isIcmp, parseProtocol, type Protocol } from './protocol.js';
import { isResourceId } from './resource-ids.js';

export type Direction = 'ingress' | 'egress';

/** What a rule matches beyond the protocol. ICMP `-1` means any type / any code. */
export type PortMatch =
  | { readonly kind: 'all' }
  | { readonly kind: 'range'; readonly from: number; readonly to: number }
  | { readonly kind: 'icmp'; readonly type: number; readonly code: number };

export type Peer =
  | { readonly kind: 'cidr'; readonly cidr: Cidr }
  | { readonly kind: 'group'; readonly groupId: string }
  | { readonly kind: 'prefix-list'; readonly prefixListId: string };

export interface SecurityGroupRule {
  readonly groupId: string;
  readonly direction: Direction;
  readonly protocol: Protocol;
  readonly ports: PortMatch;
  readonly peer: Peer;
  readonly ruleId?: string;
  readonly description?: string;
}

/** A rule as a request states it (EC2 `SecurityGroupRuleRequest`, in our spelling). */
export interface RuleSpec {
  readonly protocol: string;
  readonly fromPort?: number;
  readonly toPort?: number;
  readonly cidrIpv4?: string;
  readonly cidrIpv6?: string;
  readonly prefixListId?: string;
  readonly referencedGroupId?: string;
  readonly description?: string;
}

const allPorts: PortMatch = { kind: 'all' };

function invalid(message: string): Ec2RequestError {
  return new Ec2RequestError('InvalidParameterValue', message);
}

function normalizePortRange(fromPort: number | undefined, toPort: number | undefined): PortMatch {
  if (fromPort === undefined || toPort === undefined) {
    throw invalid(
      `Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.`,
    );
  }
  for (const port of [fromPort, toPort]) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw invalid(`Invalid value '${port}' for portRange. Ports must be between 0 and 65535.`);
    }
  }
  if (fromPort > toPort) {
    throw invalid(
      `Invalid value 'from port ${fromPort} is greater than to port ${toPort}' for portRange.`,
    );
  }
  return { kind: 'range', from: fromPort, to: toPort };
}

function normalizeIcmp(
  protocol: Protocol,
  fromPort: number | undefined,
  toPort: number | undefined,
): PortMatch {
  if (fromPort === undefined && toPort === undefined && protocol !== 1) {
    return { kind: 'icmp', type: -1, code: -1 };
  }
  if (fromPort === undefined || toPort === undefined) {
    throw invalid(`Invalid value 'Must specify both ICMP type and code.' for icmpTypeCode.`);
  }
  for (const value of [fromPort, toPort]) {
    if (!Number.isInteger(value) || value < -1 || value > 255) {
      throw invalid(`Invalid value '${value}' for ICMP type or code. Must be between -1 and 255.`);
    }
  }
  // EC2: an ICMP type of -1 (all types) implies all codes.
  return { kind: 'icmp', type: fromPort, code: fromPort === -1 ? -1 : toPort };
}

export function normalizePorts(protocol: Protocol, fromPort?: number, toPort?: number): PortMatch {
  if (hasPorts(protocol)) return normalizePortRange(fromPort, toPort);
  if (isIcmp(protocol)) return normalizeIcmp(protocol, fromPort, toPort);
  return allPorts;
}

function normalizeCidrPeer(text: string, family: 4 | 6): Peer {
  const parsed = parseCidr(text.trim());
  if (parsed?.cidr.family !== family) {
    throw invalid(`CIDR block ${text} is malformed`);
  }
  return { kind: 'cidr', cidr: parsed.cidr };
}

export function normalizePeer(spec: RuleSpec): Peer {
  const given = [spec.cidrIpv4, spec.cidrIpv6, spec.prefixListId, spec.referencedGroupId].filter(
    (value) => value !== undefined,
  );
  if (given.length !== 1) {
    throw new Ec2RequestError(
      given.length === 0 ? 'MissingParameter' : 'InvalidParameterCombination',
      'A security group rule needs exactly one of CidrIpv4, CidrIpv6, PrefixListId or ReferencedGroupId.',
    );
  }
  if (spec.cidrIpv4 !== undefined) return normalizeCidrPeer(spec.cidrIpv4, 4);
  if (spec.cidrIpv6 !== undefined) return normalizeCidrPeer(spec.cidrIpv6, 6);
  if (spec.prefixListId !== undefined) {
    if (!isResourceId('prefixList', spec.prefixListId)) {
      throw new Ec2RequestError(
        'InvalidPrefixListId.Malformed',
        `Invalid id: "${spec.prefixListId}" (expecting "pl-...")`,
      );
    }
    return { kind: 'prefix-list', prefixListId: spec.prefixListId };
  }
  const groupId = spec.referencedGroupId ?? '';
  if (!isResourceId('securityGroup', groupId)) {
    throw new Ec2RequestError(
      'InvalidGroupId.Malformed',
      `Invalid id: "${groupId}" (expecting "sg-...")`,
    );
  }
  return { kind: 'group', groupId };
}

const descriptionPattern = /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/;

function normalizeDescription(description: string | undefined): string | undefined {
  if (description === undefined) return undefined;
  if (description.length > 255 || !descriptionPattern.test(description)) {
    throw invalid(
      `Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*`,
    );
  }
  return description;
}

/** Normalises one rule of `groupId`. Throws the `Ec2RequestError` EC2 would return. */
export function normalizeRule(
  groupId: string,
  direction: Direction,
  spec: RuleSpec,
): SecurityGroupRule {
  const protocol = parseProtocol(spec.protocol);
  const ports = normalizePorts(protocol, spec.fromPort, spec.toPort);
  const peer = normalizePeer(spec);
  const description = normalizeDescription(spec.description);
  return { groupId, direction, protocol, ports, peer, ...(description ? { description } : {}) };
}

function portsKey(ports: PortMatch): string {
  switch (ports.kind) {
    case 'all':
      return '*';
    case 'range':
      return `${ports.from}-${ports.to}`;
    case 'icmp':
      return `t${ports.type}c${ports.code}`;
  }
}

export function peerKey(peer: Peer): string {
  switch (peer.kind) {
    case 'cidr':
      return peer.cidr.text;
    case 'group':
      return peer.groupId;
    case 'prefix-list':
      return peer.prefixListId;
  }
}

/** Identity of a rule as EC2 sees it for duplicates and revoke-by-match: description excluded. */
export function ruleKey(rule: SecurityGroupRule): string {
  return [
    rule.groupId,
    rule.direction,
    formatProtocol(rule.protocol),
    portsKey(rule.ports),
    peerKey(rule.peer),
  ].join('|');
}

/** The rule as EC2 prints it in `InvalidPermission.Duplicate` messages. */
export function formatRuleForMessage(rule: SecurityGroupRule): string {
  const protocol = rule.protocol === 'all' ? 'ALL' : formatProtocol(rule.protocol).toUpperCase();
  const parts = [`peer: ${peerKey(rule.peer)}`, protocol];
  if (rule.ports.kind === 'range') {
    parts.push(`from port: ${rule.ports.from}`, `to port: ${rule.ports.to}`);
  } else if (rule.ports.kind === 'icmp') {
    parts.push(`type: ${rule.ports.type}`, `code: ${rule.ports.code}`);
  }
  parts.push('ALLOW');
  return parts.join(', ');
}

/** Human form used by `sgpods explain`: `tcp 5432`, `all traffic`, `icmp type 8 code any`. */
export function formatRuleTraffic(rule: Pick<SecurityGroupRule, 'protocol' | 'ports'>): string {
  if (rule.protocol === 'all') return 'all traffic';
  const name = formatProtocol(rule.protocol);
  switch (rule.ports.kind) {
    case 'all':
      return `${name} all ports`;
    case 'range':
      return rule.ports.from === rule.ports.to
        ? `${name} ${rule.ports.from}`
        : `${name} ${rule.ports.from}-${rule.ports.to}`;
    case 'icmp': {
      const type = rule.ports.type === -1 ? 'any' : String(rule.ports.type);
      const code = rule.ports.code === -1 ? 'any' : String(rule.ports.code);
      return `${name} type ${type} code ${code}`;
    }
  }
}
