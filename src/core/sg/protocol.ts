/**
 * IP protocols as EC2 security-group rules name them: `tcp`, `udp`, `icmp`, `icmpv6`, an IANA
 * number as text, or `-1` for all protocols. Aliases are resolved once here; inside sgpods a
 * protocol is its number, or `all`.
 */
import { Ec2RequestError } from '../errors.js';

export type Protocol = number | 'all';

export const protocolNumbers = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58 } as const;

const protocolNames = new Map<number, string>(
  Object.entries(protocolNumbers).map(([name, number]) => [number, name]),
);

/** Parses an `IpProtocol` value. Throws `InvalidParameterValue` as EC2 does for anything else. */
export function parseProtocol(text: string): Protocol {
  const lower = text.trim().toLowerCase();
  if (lower === '-1') return 'all';
  if (lower in protocolNumbers) return protocolNumbers[lower as keyof typeof protocolNumbers];
  if (/^\d{1,3}$/.test(lower) && Number(lower) <= 255) return Number(lower);
  throw new Ec2RequestError(
    'InvalidParameterValue',
    `Invalid value '${text}' for IP protocol. Unknown protocol.`,
  );
}

/** The wire spelling EC2 returns: a name for tcp/udp/icmp/icmpv6, `-1` for all, else the number. */
export function formatProtocol(protocol: Protocol): string {
  if (protocol === 'all') return '-1';
  return protocolNames.get(protocol) ?? String(protocol);
}

/** True for the protocols whose rules carry ports (tcp, udp). */
export function hasPorts(protocol: Protocol): boolean {
  return protocol === protocolNumbers.tcp || protocol === protocolNumbers.udp;
}

/** True for the protocols whose rules carry an ICMP type and code. */
export function isIcmp(protocol: Protocol): boolean {
  return protocol === protocolNumbers.icmp || protocol === protocolNumbers.icmpv6;
}
