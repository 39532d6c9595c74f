/**
 * IPv4/IPv6 addresses and CIDR blocks as EC2 treats them: strict dotted-quad IPv4, RFC 4291 IPv6,
 * CIDRs canonicalised to their network address (EC2 stores 100.68.0.18/18 as 100.68.0.0/18).
 * Parsing is ipaddr.js; arithmetic is on bigints so containment is a mask and a compare.
 */
import ipaddr from 'ipaddr.js';

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
  /** Canonical text: dotted quad, or RFC 5952 compressed IPv6. */
  readonly text: string;
}

export interface Cidr {
  readonly family: IpFamily;
  /** Network address with the host bits cleared. */
  readonly network: bigint;
  readonly prefixLength: number;
  /** Canonical text, e.g. `10.0.0.0/16`, `2001:db8::/32`. */
  readonly text: string;
}

const familyBits = { 4: 32, 6: 128 } as const;

function bytesToBigint(bytes: readonly number[]): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

function bigintToBytes(value: bigint, length: number): number[] {
  const bytes = new Array<number>(length);
  let rest = value;
  for (let i = length - 1; i >= 0; i--) {
    bytes[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return bytes;
}

/** The canonical text of an address given as a number. */
export function formatAddress(family: IpFamily, value: bigint): string {
  if (family === 4) {
    const n = Number(value);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  return new ipaddr.IPv6(bigintToBytes(value, 16)).toRFC5952String();
}

/** Strict dotted quad: four decimal octets 0-255, no leading zeros (as ipaddr.js's four-part check). */
const dottedQuad =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses one address; `undefined` when it is not a plain IPv4 or IPv6 address. */
export function parseIpAddress(text: string): IpAddress | undefined {
  // IPv4 is parsed here directly: rule files hold hundreds of thousands of CIDRs.
  if (dottedQuad.test(text)) {
    const value = text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n);
    return { family: 4, value, text };
  }
  if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) {
    const value = bytesToBigint(ipaddr.IPv6.parse(text).toByteArray());
    return { family: 6, value, text: formatAddress(6, value) };
  }
  return undefined;
}

/** Host masks by family and prefix length, computed once: containment is a hot path. */
const hostMasks = {
  4: Array.from({ length: 33 }, (_, length) => (1n << BigInt(32 - length)) - 1n),
  6: Array.from({ length: 129 }, (_, length) => (1n << BigInt(128 - length)) - 1n),
} as const;

function hostMask(family: IpFamily, prefixLength: number): bigint {
  const mask = hostMasks[family][prefixLength];
  if (mask === undefined) throw new RangeError(`prefix length ${prefixLength} out of range`);
  return mask;
}

/** A CIDR built from an address and a prefix length, host bits cleared. */
export function makeCidr(address: IpAddress, prefixLength: number): Cidr {
  const network = address.value & ~hostMask(address.family, prefixLength);
  return {
    family: address.family,
    network,
    prefixLength,
    text: `${formatAddress(address.family, network)}/${prefixLength}`,
  };
}

export interface ParsedCidr {
  readonly cidr: Cidr;
  /** False when the text had host bits set (EC2 accepts it and stores the canonical form). */
  readonly wasCanonical: boolean;
}

/** Parses `address/length`; `undefined` when malformed (no slash, bad address, bad length). */
export function parseCidr(text: string): ParsedCidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseIpAddress(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (address === undefined || !/^\d{1,3}$/.test(lengthText)) return undefined;
  const prefixLength = Number(lengthText);
  if (prefixLength > familyBits[address.family]) return undefined;
  const cidr = makeCidr(address, prefixLength);
  return { cidr, wasCanonical: cidr.network === address.value };
}

export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  return (
    cidr.family === address.family &&
    (address.value & ~hostMask(cidr.family, cidr.prefixLength)) === cidr.network
  );
}

/** The whole address space of a family: 0.0.0.0/0 or ::/0. */
export function isAnyCidr(cidr: Cidr): boolean {
  return cidr.prefixLength === 0;
}

/** The n-th address of a CIDR (n = 2 gives the Amazon-provided DNS resolver of a VPC). */
export function nthAddress(cidr: Cidr, n: number): IpAddress {
  const value = cidr.network + BigInt(n);
  return { family: cidr.family, value, text: formatAddress(cidr.family, value) };
}
