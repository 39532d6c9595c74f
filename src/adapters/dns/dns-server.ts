/**
 * A DNS server's transport, for the resolvers sgpods runs (the VPC's, the cluster's): UDP and TCP
 * on the same port of each address, messages decoded with dns-packet, answers encoded and
 * truncated (TC) when too large for UDP (512 bytes, or the EDNS size up to 1232), TCP framing and
 * idle timeouts. What to answer is the caller's `answer` function; a message that is not a query
 * is dropped, never answered (two resolvers must not bounce packets off each other).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket, type Packet } from 'dns-packet';

export type { Answer, DecodedPacket, Packet };

/** A UDP answer without EDNS must fit 512 bytes (RFC 1035). */
const plainUdpLimit = 512;
/** The EDNS payload we offer and honour at most: no IP fragmentation on any sane path. */
const ednsUdpLimit = 1232;
const tcpLimit = 65_535;
const tcpIdleMs = 30_000;
export const opcodeMask = 0xf << 11;
export const rcode = {
  noError: 0,
  formErr: 1,
  servFail: 2,
  nxDomain: 3,
  notImp: 4,
  refused: 5,
} as const;

/** A response to `query` with `code`, echoing its question, opcode, RD and EDNS. */
export function dnsReply(
  query: DecodedPacket,
  code: number,
  authoritative: boolean,
  answers: Answer[] = [],
  authorities: Answer[] = [],
): Packet {
  const copied = (query.flags ?? 0) & (opcodeMask | dnsPacket.RECURSION_DESIRED);
  const aa = authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0;
  const edns = query.additionals?.some((record) => record.type === 'OPT') ?? false;
  const packet: Packet = {
    type: 'response',
    id: query.id ?? 0,
    flags: copied | dnsPacket.RECURSION_AVAILABLE | aa | code,
    questions: query.questions ?? [],
    answers,
    authorities,
    additionals: edns
      ? [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: ednsUdpLimit,
            extendedRcode: 0,
            ednsVersion: 0,
            flags: 0,
            flag_do: false,
            options: [],
          },
        ]
      : [],
  };
  return packet;
}

function udpLimit(query: DecodedPacket): number {
  const opt = query.additionals?.find((record) => record.type === 'OPT');
  if (opt === undefined) return plainUdpLimit;
  return Math.min(Math.max(opt.udpPayloadSize, plainUdpLimit), ednsUdpLimit);
}

/** What a server answers to one query (undefined: drop it). */
export type DnsAnswerer = (
  query: DecodedPacket,
  transport: 'udp' | 'tcp',
) => Packet | undefined | Promise<Packet | undefined>;

/** Encodes `packet` for the transport, truncated (TC, no answers) when it does not fit. */
export function encodeForTransport(
  packet: Packet,
  query: DecodedPacket,
  transport: 'udp' | 'tcp',
): Buffer | undefined {
  try {
    const encoded = dnsPacket.encode(packet);
    const limit = transport === 'udp' ? udpLimit(query) : tcpLimit;
    if (encoded.length <= limit) return encoded;
    const flags = (packet.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE;
    return dnsPacket.encode({ ...packet, flags, answers: [] });
  } catch {
    // A question that decodes but cannot be encoded back is as malformed as one that fails.
    return undefined;
  }
}

/**
 * The wire answer to one DNS message, or undefined for a message that is not a query we can
 * parse (the caller drops it). An answer too large for the transport is sent truncated (TC) so
 * that UDP clients retry over TCP. Errors of `answer` propagate.
 */
export async function answerDnsMessage(
  message: Buffer,
  answer: DnsAnswerer,
  transport: 'udp' | 'tcp',
): Promise<Buffer | undefined> {
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(message);
  } catch {
    return undefined;
  }
  // Never answer a response: two resolvers must not bounce packets off each other.
  if (query.type !== 'query') return undefined;
  const packet = await answer(query, transport);
  return packet ? encodeForTransport(packet, query, transport) : undefined;
}

type Report = (error: unknown) => void;

export interface DnsServerOptions {
  readonly answer: DnsAnswerer;
  /** Every address gets UDP and TCP on the same port. */
  readonly addresses: readonly string[];
  /** 0 picks a free port (the same one on every address). */
  readonly port: number;
  /** Bugs and socket errors are reported here; the server keeps serving. */
  readonly onError?: (error: unknown) => void;
}

export interface DnsServer {
  readonly port: number;
  close(): Promise<void>;
}

function closeUdp(socket: dgram.Socket): Promise<void> {
  return new Promise((resolveClosed) => {
    try {
      socket.close(() => {
        resolveClosed();
      });
    } catch {
      // Already closed (after a failed bind): nothing left to release.
      resolveClosed();
    }
  });
}

function bindUdp(address: string, port: number, answer: DnsAnswerer, report: Report) {
  const socket = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
  socket.on('message', (message, peer) => {
    answerDnsMessage(message, answer, 'udp').then((encoded) => {
      if (encoded === undefined) return;
      socket.send(encoded, peer.port, peer.address, (error) => {
        if (error) report(error);
      });
    }, report);
  });
  return new Promise<dgram.Socket>((resolveBound, reject) => {
    socket.once('error', (error) => {
      void closeUdp(socket).then(() => {
        reject(error);
      });
    });
    socket.bind(port, address, () => {
      socket.removeAllListeners('error');
      socket.on('error', report);
      resolveBound(socket);
    });
  });
}

function serveTcpConnection(socket: net.Socket, answer: DnsAnswerer, report: Report): void {
  let pending = Buffer.alloc(0);
  // Answers go out in the order the queries came, also when some take longer (forwarded ones).
  let sending: Promise<void> = Promise.resolve();
  socket.setTimeout(tcpIdleMs, () => {
    socket.destroy();
  });
  // Resets from clients are routine, not errors worth reporting.
  socket.on('error', () => {
    socket.destroy();
  });
  const send = (frame: Buffer): void => {
    const answered = answerDnsMessage(frame, answer, 'tcp').catch((error: unknown) => {
      report(error);
      return undefined;
    });
    sending = sending.then(async () => {
      const encoded = await answered;
      if (encoded === undefined) {
        socket.destroy();
        return;
      }
      const length = Buffer.alloc(2);
      length.writeUInt16BE(encoded.length);
      socket.write(Buffer.concat([length, encoded]));
    });
  };
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const end = 2 + pending.readUInt16BE(0);
      if (pending.length < end) return;
      send(pending.subarray(2, end));
      pending = pending.subarray(end);
    }
  });
}

function bindTcp(address: string, port: number, answer: DnsAnswerer, report: Report) {
  const connections = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => {
      connections.delete(socket);
    });
    serveTcpConnection(socket, answer, report);
  });
  const close = () =>
    new Promise<void>((resolveClosed) => {
      server.close(() => {
        resolveClosed();
      });
      for (const socket of connections) socket.destroy();
    });
  return new Promise<() => Promise<void>>((resolveBound, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      server.on('error', report);
      resolveBound(close);
    });
  });
}

async function bindAll(
  options: DnsServerOptions,
  closers: (() => Promise<void>)[],
): Promise<number> {
  const report: Report = (error) => options.onError?.(error);
  const [first, ...others] = options.addresses;
  if (first === undefined) throw new Error('a DNS server needs at least one address');
  // The first UDP socket picks the port; the other sockets must get the same one.
  const udp = await bindUdp(first, options.port, options.answer, report);
  closers.push(() => closeUdp(udp));
  const port = udp.address().port;
  closers.push(await bindTcp(first, port, options.answer, report));
  for (const address of others) {
    const more = await bindUdp(address, port, options.answer, report);
    closers.push(() => closeUdp(more));
    closers.push(await bindTcp(address, port, options.answer, report));
  }
  return port;
}

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  // An ephemeral UDP port may be taken on TCP or on another address; pick again a few times.
  const attempts = options.port === 0 ? 5 : 1;
  for (let attempt = 1; ; attempt++) {
    const closers: (() => Promise<void>)[] = [];
    const closeAll = async () => {
      await Promise.all(closers.map((close) => close()));
    };
    try {
      const port = await bindAll(options, closers);
      return { port, close: closeAll };
    } catch (error) {
      await closeAll();
      const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (!inUse || attempt >= attempts) throw error;
    }
  }
}
