/**
 * Cluster DNS (the role CoreDNS plays on EKS): `<service>.<namespace>.svc.cluster.local` → the
 * Service's ClusterIP, or the ready endpoint addresses of a headless one;
 * `<a-b-c-d>.<namespace>.pod.cluster.local` → a.b.c.d; other names under the cluster domain are
 * NXDOMAIN (with the zone's SOA); everything else is forwarded to the upstream resolvers of the
 * DNS pod's own resolv.conf (the node's: the VPC resolver in the sandbox), SERVFAIL when none
 * answers. Services and EndpointSlices come from informers over the API (in-cluster client).
 */
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import {
  dnsReply,
  opcodeMask,
  rcode,
  startDnsServer,
  type Answer,
  type DecodedPacket,
  type DnsServer,
  type Packet,
} from '../../../adapters/dns/dns-server.js';
import { Informer } from '../../../adapters/kube/informer.js';
import type { KubeHttpClient, KubeResource } from '../../../adapters/kube/kube-http-client.js';
import { serviceNameLabel } from './endpoints-controller.js';

type Json = Record<string, unknown>;

/** CoreDNS's kubernetes plugin answers with a TTL of 5 s. */
const ttlSeconds = 5;
const forwardTimeoutMs = 2000;

export interface ClusterDnsOptions {
  readonly client: KubeHttpClient;
  readonly domain: string;
  /** Upstream resolvers (addresses; port 53). */
  readonly upstreams: readonly string[];
  readonly addresses: readonly string[];
  readonly port: number;
  readonly onError?: (error: unknown) => void;
}

/** What a name under the cluster domain is: addresses, a name that exists without any, or none. */
export type ClusterName =
  | { readonly kind: 'addresses'; readonly addresses: readonly string[] }
  | { readonly kind: 'empty' }
  | { readonly kind: 'missing' };

/** A Service's addresses: its ClusterIP, or the ready endpoints of a headless one. */
function serviceAddresses(
  name: string,
  namespace: string,
  services: readonly KubeResource[],
  slices: readonly KubeResource[],
): ClusterName {
  const service = services.find(
    (candidate) => candidate.metadata.name === name && candidate.metadata.namespace === namespace,
  );
  if (!service) return { kind: 'missing' };
  const clusterIp = (service.spec as Json | undefined)?.clusterIP;
  if (typeof clusterIp === 'string' && clusterIp !== '' && clusterIp !== 'None')
    return { kind: 'addresses', addresses: [clusterIp] };
  const addresses = slices
    .filter(
      (slice) =>
        slice.metadata.namespace === namespace &&
        slice.metadata.labels?.[serviceNameLabel] === name,
    )
    .flatMap((slice) =>
      ((slice.endpoints ?? []) as Json[])
        .filter((endpoint) => (endpoint.conditions as Json | undefined)?.ready !== false)
        .flatMap((endpoint) => (endpoint.addresses ?? []) as string[]),
    );
  return addresses.length > 0
    ? { kind: 'addresses', addresses: [...new Set(addresses)].sort() }
    : { kind: 'empty' };
}

/**
 * Looks a name (lower case, no trailing dot, under `domain`) up: `<svc>.<ns>.svc`,
 * `<a-b-c-d>.<ns>.pod`; `svc`, `pod` and `<ns>.svc|pod` exist without addresses.
 */
export function lookUpClusterName(
  name: string,
  domain: string,
  services: readonly KubeResource[],
  slices: readonly KubeResource[],
): ClusterName {
  if (name === domain) return { kind: 'empty' };
  const labels = name.slice(0, -(domain.length + 1)).split('.');
  const kind = labels.at(-1);
  if (labels.length > 3 || (kind !== 'svc' && kind !== 'pod')) return { kind: 'missing' };
  if (labels.length < 3) return { kind: 'empty' };
  const [first = '', namespace = ''] = labels;
  if (kind === 'svc') return serviceAddresses(first, namespace, services, slices);
  const ip = first.replaceAll('-', '.');
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(ip)
    ? { kind: 'addresses', addresses: [ip] }
    : { kind: 'missing' };
}

function soaOf(domain: string): Answer {
  return {
    name: domain,
    type: 'SOA',
    ttl: ttlSeconds,
    class: 'IN',
    data: {
      mname: `ns.dns.${domain}`,
      rname: `hostmaster.${domain}`,
      serial: 1,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ttlSeconds,
    },
  };
}

/** Sends the query to each upstream in turn over UDP; the first answer wins. */
function forward(query: DecodedPacket, upstreams: readonly string[]): Promise<Packet | undefined> {
  const message = dnsPacket.encode({ ...query, type: 'query' });
  const attempt = (upstream: string): Promise<Packet | undefined> =>
    new Promise((resolve) => {
      const socket = dgram.createSocket('udp4');
      const timer = setTimeout(() => {
        socket.close();
        resolve(undefined);
      }, forwardTimeoutMs);
      socket.on('message', (answer) => {
        clearTimeout(timer);
        socket.close();
        try {
          resolve(dnsPacket.decode(answer));
        } catch {
          resolve(undefined);
        }
      });
      socket.on('error', () => {
        clearTimeout(timer);
        socket.close();
        resolve(undefined);
      });
      // Connected, so that a closed port's ICMP error fails the attempt at once.
      socket.connect(53, upstream, () => {
        socket.send(message);
      });
    });
  return upstreams.reduce<Promise<Packet | undefined>>(
    (previous, upstream) => previous.then((answer) => answer ?? attempt(upstream)),
    Promise.resolve(undefined),
  );
}

export class ClusterDns {
  readonly #services: Informer;
  readonly #slices: Informer;
  #server: DnsServer | undefined;

  constructor(readonly options: ClusterDnsOptions) {
    const report = options.onError ?? (() => undefined);
    this.#services = new Informer(options.client, '/api/v1/services', report);
    this.#slices = new Informer(options.client, '/apis/discovery.k8s.io/v1/endpointslices', report);
  }

  /** Serves once the first lists are in (answers before that would be wrong NXDOMAINs). */
  async start(): Promise<number> {
    await Promise.all([this.#services.start(), this.#slices.start()]);
    this.#server = await startDnsServer({
      addresses: this.options.addresses,
      port: this.options.port,
      answer: (query) => this.answer(query),
      ...(this.options.onError ? { onError: this.options.onError } : {}),
    });
    return this.#server.port;
  }

  async answer(query: DecodedPacket): Promise<Packet | undefined> {
    if (((query.flags ?? 0) & opcodeMask) !== 0) return dnsReply(query, rcode.notImp, false);
    const question = query.questions?.[0];
    if (question === undefined || query.questions?.length !== 1)
      return dnsReply(query, rcode.formErr, false);
    const { domain } = this.options;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    if (name !== domain && !name.endsWith(`.${domain}`)) {
      const answered = await forward(query, this.options.upstreams);
      return answered ? { ...answered, id: query.id ?? 0 } : dnsReply(query, rcode.servFail, false);
    }
    const found = lookUpClusterName(name, domain, this.#services.list(), this.#slices.list());
    if (found.kind === 'missing') return dnsReply(query, rcode.nxDomain, true, [], [soaOf(domain)]);
    if (found.kind === 'empty' || question.type !== 'A')
      return dnsReply(query, rcode.noError, true, [], [soaOf(domain)]);
    const answers = found.addresses.map((data): Answer => ({
      name: question.name,
      type: 'A',
      ttl: ttlSeconds,
      class: 'IN',
      data,
    }));
    return dnsReply(query, rcode.noError, true, answers);
  }

  async close(): Promise<void> {
    this.#services.stop();
    this.#slices.stop();
    await this.#server?.close();
  }
}
