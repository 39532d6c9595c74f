/**
 * The VPC's DNS resolver ("AmazonProvidedDNS", at the VPC base + 2 and 169.254.169.253), serving
 * UDP and TCP from the VPC router's namespace. It answers only for the zones the directory holds
 * (instance names); everything else is REFUSED rather than forwarded, because the sandbox has no
 * upstream to forward to and a fast refusal beats a client waiting for a timeout.
 */
import {
  answerDnsMessage as answerWith,
  dnsReply,
  opcodeMask,
  rcode,
  startDnsServer,
  type Answer,
  type DecodedPacket,
  type Packet,
} from '../../../adapters/dns/dns-server.js';
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

function resolve(query: DecodedPacket, directory: VpcDirectory): Packet {
  if (((query.flags ?? 0) & opcodeMask) !== 0) return dnsReply(query, rcode.notImp, false);
  const question = query.questions?.[0];
  if (question === undefined || query.questions?.length !== 1) {
    return dnsReply(query, rcode.formErr, false);
  }
  const name = question.name.toLowerCase().replace(/\.$/, '');
  if ((question.class ?? 'IN') !== 'IN' || !directory.isAuthoritativeFor(name)) {
    return dnsReply(query, rcode.refused, false);
  }
  const addresses = directory.resolveName(name);
  if (addresses === undefined) return dnsReply(query, rcode.nxDomain, true);
  // Answers carry the name as asked: clients using 0x20 case randomisation compare it exactly.
  const owner = { name: question.name, ttl: ttlSeconds, class: 'IN' } as const;
  if (question.type === 'A') {
    const answers = addresses.v4.map((data): Answer => ({ ...owner, type: 'A', data }));
    return dnsReply(query, rcode.noError, true, answers);
  }
  if (question.type === 'AAAA') {
    const answers = addresses.v6.map((data): Answer => ({ ...owner, type: 'AAAA', data }));
    return dnsReply(query, rcode.noError, true, answers);
  }
  return dnsReply(query, rcode.noError, true);
}

/** The wire answer to one DNS message (undefined: not a query; dropped). */
export function answerDnsMessage(
  message: Buffer,
  directory: VpcDirectory,
  transport: 'udp' | 'tcp',
): Promise<Buffer | undefined> {
  return answerWith(message, (query) => resolve(query, directory), transport);
}

export function startVpcResolver(options: VpcResolverOptions): Promise<VpcResolver> {
  return startDnsServer({
    addresses: options.addresses,
    port: options.port,
    answer: (query) => resolve(query, options.directory),
    ...(options.onError ? { onError: options.onError } : {}),
  });
}
