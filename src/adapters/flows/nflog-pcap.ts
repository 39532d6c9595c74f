/**
 * Reads what `tcpdump -i nflog:<group> -w -` writes: a pcap stream (link type 239, NFLOG) whose
 * records carry netfilter's log attributes as TLVs — the rule's prefix, the in and out interface
 * indexes, the packet. Lengths and types of the TLVs are in host order (little-endian here),
 * their values in network order, each padded to 4 bytes. Fed chunk by chunk; yields one logged
 * packet per record with its addresses, protocol, ports and length decoded.
 */
import { SgpodsError } from '../../core/errors.js';

const pcapMagicLittleEndian = 0xa1b2c3d4;
const pcapMagicNanoseconds = 0xa1b23c4d;
const linkTypeNflog = 239;
const attributes = { indev: 4, outdev: 5, payload: 9, prefix: 10 } as const;

export interface LoggedPacket {
  /** Seconds since the epoch. */
  readonly time: number;
  readonly prefix: string;
  readonly inIfindex: number | undefined;
  readonly outIfindex: number | undefined;
  readonly source: string;
  readonly destination: string;
  /** IANA protocol number. */
  readonly protocol: number;
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** The IP packet's length in bytes. */
  readonly bytes: number;
}

export class NflogPcapError extends SgpodsError {
  constructor(message: string) {
    super('SGPODS_FLOW_LOG_UNREADABLE', message);
  }
}

function ipv6Text(bytes: Buffer, offset: number): string {
  const groups: string[] = [];
  for (let index = 0; index < 8; index++)
    groups.push(bytes.readUInt16BE(offset + index * 2).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Addresses, protocol, ports and length of an IPv4 or IPv6 packet; undefined for others. */
function decodeIp(
  packet: Buffer,
): Omit<LoggedPacket, 'time' | 'prefix' | 'inIfindex' | 'outIfindex'> | undefined {
  const version = (packet[0] ?? 0) >> 4;
  let protocol: number;
  let header: number;
  let source: string;
  let destination: string;
  let bytes: number;
  if (version === 4 && packet.length >= 20) {
    header = ((packet[0] ?? 0) & 15) * 4;
    protocol = packet[9] ?? 0;
    source = [...packet.subarray(12, 16)].join('.');
    destination = [...packet.subarray(16, 20)].join('.');
    bytes = packet.readUInt16BE(2);
  } else if (version === 6 && packet.length >= 40) {
    header = 40;
    protocol = packet[6] ?? 0;
    source = ipv6Text(packet, 8);
    destination = ipv6Text(packet, 24);
    bytes = packet.readUInt16BE(4) + 40;
  } else {
    return undefined;
  }
  const ported = (protocol === 6 || protocol === 17) && packet.length >= header + 4;
  return {
    source,
    destination,
    protocol,
    sourcePort: ported ? packet.readUInt16BE(header) : 0,
    destinationPort: ported ? packet.readUInt16BE(header + 2) : 0,
    bytes,
  };
}

function decodeRecord(data: Buffer, time: number): LoggedPacket | undefined {
  let prefix = '';
  let inIfindex: number | undefined;
  let outIfindex: number | undefined;
  let payload: Buffer | undefined;
  let offset = 4; // family, version, resource id
  while (offset + 4 <= data.length) {
    const length = data.readUInt16LE(offset);
    const type = data.readUInt16LE(offset + 2) & 0x7fff;
    if (length < 4 || offset + length > data.length) break;
    const value = data.subarray(offset + 4, offset + length);
    if (type === attributes.prefix) prefix = value.toString('latin1').replace(/\0.*$/s, '');
    else if (type === attributes.indev && value.length >= 4) inIfindex = value.readUInt32BE(0);
    else if (type === attributes.outdev && value.length >= 4) outIfindex = value.readUInt32BE(0);
    else if (type === attributes.payload) payload = value;
    offset += (length + 3) & ~3;
  }
  const ip = payload ? decodeIp(payload) : undefined;
  return ip ? { time, prefix, inIfindex, outIfindex, ...ip } : undefined;
}

/** A streaming reader: `push` chunks, get the complete records decoded so far. */
export class NflogPcapReader {
  #buffer: Buffer = Buffer.alloc(0);
  #headerRead = false;
  #nanoseconds = false;

  push(chunk: Buffer): LoggedPacket[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const packets: LoggedPacket[] = [];
    if (!this.#headerRead) {
      if (this.#buffer.length < 24) return packets;
      const magic = this.#buffer.readUInt32LE(0);
      if (magic !== pcapMagicLittleEndian && magic !== pcapMagicNanoseconds)
        throw new NflogPcapError(`not a little-endian pcap stream (magic ${magic.toString(16)})`);
      const linkType = this.#buffer.readUInt32LE(20);
      if (linkType !== linkTypeNflog)
        throw new NflogPcapError(`link type ${linkType}, expected ${linkTypeNflog} (NFLOG)`);
      this.#nanoseconds = magic === pcapMagicNanoseconds;
      this.#buffer = this.#buffer.subarray(24);
      this.#headerRead = true;
    }
    while (this.#buffer.length >= 16) {
      const captured = this.#buffer.readUInt32LE(8);
      if (this.#buffer.length < 16 + captured) break;
      const seconds = this.#buffer.readUInt32LE(0);
      const fraction = this.#buffer.readUInt32LE(4) / (this.#nanoseconds ? 1e9 : 1e6);
      const packet = decodeRecord(this.#buffer.subarray(16, 16 + captured), seconds + fraction);
      if (packet) packets.push(packet);
      this.#buffer = this.#buffer.subarray(16 + captured);
    }
    return packets;
  }
}
