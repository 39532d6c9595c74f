/**
 * The VPC's DNS resolver ("AmazonProvidedDNS", at the VPC base + 2 and 169.254.169.253), serving
 * UDP and TCP from the VPC router's namespace. It answers only for the zones the directory holds
 * (instance names); everything else is REFUSED rather than forwarded, because the sandbox has no
 * upstream to forward to and a fast refusal beats a client waiting for a timeout.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket, type Packet } from 'dns-packet';
import type { VpcDirectory } from './vpc-directory.js';

export interface VpcResolverOptions {
  readonly directory: VpcDirectory;
  /** Every address gets UDP and TCP on the same port. */
  readonly addresses: readonly string[];
  /** 0 picks a free port (the same one on every address). */
  readonly port: number;
  /** Bugs and socket errors are reported here; the resolver keeps serving. */
  readonly onError?: (error: unknown) => void;
}

export interface VpcResolver {
  readonly port: number;
  close(): Promise<void>;
}

const ttlSeconds = 60;
/** A UDP answer without EDNS must fit 512 bytes (RFC 1035). */
const plainUdpLimit = 512;
/** The EDNS payload we offer and honour at most: no IP fragmentation on any sane path. */
const ednsUdpLimit = 1232;
const tcpLimit = 65_535;
const tcpIdleMs = 30_000;
const opcodeMask = 0xf << 11;
const rcode = { noError: 0, formErr: 1, nxDomain: 3, notImp: 4, refused: 5 } as const;

function reply(query: DecodedPacket, code: number, authoritative: boolean, answers: Answer[] = []) {
  const copied = (query.flags ?? 0) & (opcodeMask | dnsPacket.RECURSION_DESIRED);
  const aa = authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0;
  const edns = query.additionals?.some((record) => record.type === 'OPT') ?? false;
  const packet: Packet = {
    type: 'response',
    id: query.id ?? 0,
    flags: copied | dnsPacket.RECURSION_AVAILABLE | aa | code,
    questions: query.questions ?? [],
    answers,
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

function resolve(query: DecodedPacket, directory: VpcDirectory): Packet {
  if (((query.flags ?? 0) & opcodeMask) !== 0) return reply(query, rcode.notImp, false);
  const question = query.questions?.[0];
  if (question === undefined || query.questions?.length !== 1) {
    return reply(query, rcode.formErr, false);
  }
  const name = question.name.toLowerCase().replace(/\.$/, '');
  if ((question.class ?? 'IN') !== 'IN' || !directory.isAuthoritativeFor(name)) {
    return reply(query, rcode.refused, false);
  }
  const addresses = directory.resolveName(name);
  if (addresses === undefined) return reply(query, rcode.nxDomain, true);
  // Answers carry the name as asked: clients using 0x20 case randomisation compare it exactly.
  const owner = { name: question.name, ttl: ttlSeconds, class: 'IN' } as const;
  if (question.type === 'A') {
    const answers = addresses.v4.map((data): Answer => ({ ...owner, type: 'A', data }));
    return reply(query, rcode.noError, true, answers);
  }
  if (question.type === 'AAAA') {
    const answers = addresses.v6.map((data): Answer => ({ ...owner, type: 'AAAA', data }));
    return reply(query, rcode.noError, true, answers);
  }
  return reply(query, rcode.noError, true);
}

function udpLimit(query: DecodedPacket): number {
  const opt = query.additionals?.find((record) => record.type === 'OPT');
  if (opt === undefined) return plainUdpLimit;
  return Math.min(Math.max(opt.udpPayloadSize, plainUdpLimit), ednsUdpLimit);
}

/**
 * The wire answer to one DNS message, or undefined for a message that is not a query we can
 * parse (the caller drops it). An answer too large for the transport is sent truncated (TC) so
 * that UDP clients retry over TCP. Directory errors propagate.
 */
export function answerDnsMessage(
  message: Buffer,
  directory: VpcDirectory,
  transport: 'udp' | 'tcp',
): Buffer | undefined {
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(message);
  } catch {
    return undefined;
  }
  // Never answer a response: two resolvers must not bounce packets off each other.
  if (query.type !== 'query') return undefined;
  const packet = resolve(query, directory);
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

type Report = (error: unknown) => void;

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

function bindUdp(address: string, port: number, directory: VpcDirectory, report: Report) {
  const socket = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
  socket.on('message', (message, peer) => {
    try {
      const answer = answerDnsMessage(message, directory, 'udp');
      if (answer === undefined) return;
      socket.send(answer, peer.port, peer.address, (error) => {
        if (error) report(error);
      });
    } catch (error) {
      report(error);
    }
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

function serveTcpConnection(socket: net.Socket, directory: VpcDirectory, report: Report): void {
  let pending = Buffer.alloc(0);
  socket.setTimeout(tcpIdleMs, () => {
    socket.destroy();
  });
  // Resets from clients are routine, not errors worth reporting.
  socket.on('error', () => {
    socket.destroy();
  });
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const end = 2 + pending.readUInt16BE(0);
      if (pending.length < end) return;
      const frame = pending.subarray(2, end);
      pending = pending.subarray(end);
      let answer: Buffer | undefined;
      try {
        answer = answerDnsMessage(frame, directory, 'tcp');
      } catch (error) {
        report(error);
      }
      if (answer === undefined) {
        socket.destroy();
        return;
      }
      const length = Buffer.alloc(2);
      length.writeUInt16BE(answer.length);
      socket.write(Buffer.concat([length, answer]));
    }
  });
}

function bindTcp(address: string, port: number, directory: VpcDirectory, report: Report) {
  const connections = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => {
      connections.delete(socket);
    });
    serveTcpConnection(socket, directory, report);
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
  options: VpcResolverOptions,
  closers: (() => Promise<void>)[],
): Promise<number> {
  const report: Report = (error) => options.onError?.(error);
  const [first, ...others] = options.addresses;
  if (first === undefined) throw new Error('the VPC resolver needs at least one address');
  // The first UDP socket picks the port; the other sockets must get the same one.
  const udp = await bindUdp(first, options.port, options.directory, report);
  closers.push(() => closeUdp(udp));
  const port = udp.address().port;
  closers.push(await bindTcp(first, port, options.directory, report));
  for (const address of others) {
    const more = await bindUdp(address, port, options.directory, report);
    closers.push(() => closeUdp(more));
    closers.push(await bindTcp(address, port, options.directory, report));
  }
  return port;
}

export async function startVpcResolver(options: VpcResolverOptions): Promise<VpcResolver> {
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
