/**
 * One VPC's router: a network namespace every ENI is plugged into, where every packet between
 * ENIs meets security groups (see core/dataplane/compile-ruleset.ts for the packet path).
 *
 * An ENI is a veth pair: the router end (named from the ENI id, owned prefix) carries a /32
 * (/128) route per private IP, the subnet gateway address and proxy ARP; the host end lives in
 * the attached namespace with the ENI's addresses and a default route via the router.
 *
 * Rule changes are coalesced: every change calls `flush()`, concurrent calls share one nft
 * transaction, and each transaction changes only what differs from what was applied. After a
 * failed transaction, or on `open`, the applied state is read back from the kernel (resync).
 */
import {
  addNamespace,
  deleteNamespace,
  ipBatch,
  linkNames,
  setSysctls,
} from '../../../adapters/netns/netns.js';
import { runCommand } from '../../../adapters/exec/run-command.js';
import { CommandError } from '../../../core/errors.js';
import { listNftTable, readNftCounters, readNftSetCounters } from '../../../adapters/nft/nft.js';
import { NftSession } from '../../../adapters/nft/nft-session.js';
import { objectNames, type RouterPort } from '../../../core/dataplane/compile-ruleset.js';
import { IncrementalRuleset } from '../../../core/dataplane/incremental-ruleset.js';
import { readRulesetListing } from '../../../core/dataplane/nft-listing.js';
import { planRuleset, type RulesetState } from '../../../core/dataplane/nft-plan.js';
import { kernelName, nameTag } from '../../../core/kernel-names.js';
import { nthAddress, type Cidr, type IpAddress } from '../../../core/net/ip-address.js';
import type { SecurityGroup } from '../../../core/sg/security-group.js';
import type { PrefixList } from '../../../core/sg/world.js';

export const routerTable = 'sgpods';
const ipv6Gateway = 'fe80::1';

export interface AttachInterface {
  readonly networkInterfaceId: string;
  /** The namespace the ENI is attached to (instance, DB, pod). */
  readonly hostNamespace: string;
  /** The interface name inside it: `eth0`, `eth1`, `vlan.eth.<vlanId>`. */
  readonly hostInterface: string;
  /** Every private IPv4 and IPv6 address of the ENI (the first IPv4 is the primary). */
  readonly addresses: readonly IpAddress[];
  /** The ENI's IPv4 subnet (gateway = base + 1). */
  readonly subnet: Cidr;
  readonly groupIds: readonly string[];
  readonly sourceDestCheck?: boolean;
  /** Addresses configured on the host interface (default: all of them). */
  readonly hostAddresses?: readonly IpAddress[];
  /** The host end's MAC address (the ENI's); the kernel picks one when absent. */
  readonly hostMac?: string;
  /**
   * Host routing: `default` installs the default routes; a number installs source routing
   * (`ip rule from <address> table N`) for a second ENI on the same host; `none` leaves routes
   * to the caller (a CNI plugin).
   */
  readonly hostRouting?: 'default' | 'none' | number;
}

/** Hosts beyond the VPC (the internet, a peer network): one port, not gated by any group. */
export interface AttachOutside {
  readonly name: string;
  readonly hostNamespace: string;
  readonly hostInterface: string;
  readonly addresses: readonly IpAddress[];
}

interface Port {
  readonly kind: 'eni' | 'outside';
  readonly portName: string;
  readonly addresses: readonly IpAddress[];
  groupIds: readonly string[];
  sourceDestCheck: boolean;
  /** The host end's MAC: every address of the ENI is a permanent neighbour at it. */
  readonly hostMac?: string | undefined;
}

/**
 * The VPC delivers to an ENI's MAC for each of its addresses without asking (secondary
 * addresses are not configured inside an instance, so nothing there would answer ARP).
 */
function neighbourLines(
  addresses: readonly IpAddress[],
  portName: string,
  mac: string | undefined,
  verb: 'replace' | 'del',
): string[] {
  if (mac === undefined) return [];
  return addresses.map((address) =>
    verb === 'replace'
      ? `neigh replace ${address.text} lladdr ${mac} dev ${portName} nud permanent`
      : `neigh del ${address.text} dev ${portName}`,
  );
}

/** The router's address on outside ports, the outside hosts' on-link gateway. */
const outsideGateway = '100.64.255.254';

export interface VpcRouterOptions {
  /** The home's kernel-name prefix: every object name starts with it. */
  readonly prefix: string;
  /** The router namespace name. */
  readonly namespace: string;
}

export class VpcRouter {
  readonly namespace: string;
  readonly #prefix: string;
  readonly #ports = new Map<string, Port>();
  readonly #model = new IncrementalRuleset(routerTable);
  /** False until the kernel's table has been read (at open, and after a failed transaction). */
  #inSync = false;
  readonly #nft: NftSession;
  #inFlight: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  /** Transactions applied so far (a burst of changes coalesces into one). */
  transactions = 0;
  /** Where the last transaction spent its time: planning (compile + diff) and nft. */
  lastTransaction = { planMs: 0, nftMs: 0, lines: 0 };
  /** Told of every applied transaction (the cloud's metrics). */
  onTransaction:
    ((transaction: { planMs: number; nftMs: number; lines: number }) => void) | undefined;

  private constructor(options: VpcRouterOptions) {
    this.namespace = options.namespace;
    this.#prefix = options.prefix;
    this.#nft = new NftSession(options.namespace);
  }

  /** Creates (or adopts) the router namespace; its table is read back at the first flush. */
  static async open(options: VpcRouterOptions): Promise<VpcRouter> {
    const router = new VpcRouter(options);
    await addNamespace(router.namespace);
    await setSysctls(router.namespace, {
      'net.ipv4.ip_forward': 1,
      'net.ipv6.conf.all.forwarding': 1,
      'net.ipv4.conf.all.rp_filter': 0,
      'net.ipv4.conf.default.rp_filter': 0,
      // Every port answers ARP for the addresses routed through the router (new ports inherit
      // this; their proxy delay is per port: a namespace has no neighbour defaults to inherit).
      'net.ipv4.conf.default.proxy_arp': 1,
    });
    return router;
  }

  /** The router-side interface name of an ENI: owned prefix + a tag of the ENI id. */
  portNameOf(networkInterfaceId: string): string {
    return kernelName(this.#prefix, `p${nameTag(networkInterfaceId)}`);
  }

  /** The ENI whose router port is `portName`; undefined for other ports (the outside). */
  interfaceOfPort(portName: string): string | undefined {
    for (const [id, port] of this.#ports) {
      if (port.portName === portName) return port.kind === 'eni' ? id : undefined;
    }
    return undefined;
  }

  async #kernelState(): Promise<RulesetState | undefined> {
    return readRulesetListing(await listNftTable(this.namespace, routerTable), routerTable);
  }

  /** Replaces all groups; only groups whose objects changed are recompiled. */
  setGroups(groups: readonly SecurityGroup[]): void {
    this.#model.setGroups(groups);
  }

  putGroup(group: SecurityGroup): void {
    this.#model.putGroup(group);
  }

  removeGroup(groupId: string): void {
    this.#model.removeGroup(groupId);
  }

  setPrefixLists(prefixLists: readonly PrefixList[]): void {
    this.#model.setPrefixLists(prefixLists);
  }

  #port(networkInterfaceId: string): Port {
    const port = this.#ports.get(networkInterfaceId);
    if (!port) throw new RangeError(`${networkInterfaceId} is not attached to ${this.namespace}`);
    return port;
  }

  setInterfaceGroups(networkInterfaceId: string, groupIds: readonly string[]): void {
    const port = this.#port(networkInterfaceId);
    port.groupIds = [...groupIds];
    this.#model.setPort(routerPortOf(networkInterfaceId, port));
  }

  setSourceDestCheck(networkInterfaceId: string, enabled: boolean): void {
    const port = this.#port(networkInterfaceId);
    port.sourceDestCheck = enabled;
    this.#model.setPort(routerPortOf(networkInterfaceId, port));
  }

  #register(id: string, port: Port): void {
    this.#ports.set(id, port);
    this.#model.setPort(routerPortOf(id, port));
  }

  /**
   * The veth pair of a port, created from the router's side with the host end put straight into
   * its namespace, and the router-side lines run in the same batch (one process per port). A
   * pair that exists (a restart) keeps its link; the lines are applied again. Proxy ARP comes
   * is set per port.
   */
  async #createPort(
    portName: string,
    hostInterface: string,
    hostNamespace: string,
    routerLines: readonly string[],
  ): Promise<void> {
    const add = `link add ${portName} type veth peer name ${hostInterface} netns ${hostNamespace}`;
    try {
      await ipBatch(this.namespace, [add, ...routerLines]);
    } catch (error) {
      if (!(error instanceof CommandError && /File exists/.test(error.stderr))) throw error;
      await ipBatch(this.namespace, routerLines);
    }
    // Proxy ARP answers at once; the default delay holds first packets up to 0.8 s.
    await setSysctls(this.namespace, {
      [`net.ipv4.conf.${portName}.proxy_arp`]: 1,
      [`net.ipv4.neigh.${portName}.proxy_delay`]: 0,
    });
  }

  /**
   * Plugs an ENI in: the veth pair, addresses, routes; then its rules (fail-closed until then).
   * Idempotent: plugging in a port that exists repairs its addresses and routes. With
   * `flush: false` the rules wait for the caller's next `flush()` (many ports, one transaction).
   */
  async attachInterface(spec: AttachInterface, options: { flush?: boolean } = {}): Promise<string> {
    const portName = this.portNameOf(spec.networkInterfaceId);
    const gateway = nthAddress(spec.subnet, 1).text;
    const v4 = spec.addresses.filter((address) => address.family === 4);
    const v6 = spec.addresses.filter((address) => address.family === 6);
    await this.#createPort(portName, spec.hostInterface, spec.hostNamespace, [
      `link set ${portName} up`,
      ...(v4.length > 0 ? [`addr replace ${gateway}/32 dev ${portName} noprefixroute`] : []),
      ...(v6.length > 0 ? [`addr replace ${ipv6Gateway}/64 dev ${portName} nodad`] : []),
      ...v4.map((address) => `route replace ${address.text}/32 dev ${portName}`),
      ...v6.map((address) => `route replace ${address.text}/128 dev ${portName}`),
      ...neighbourLines(spec.addresses, portName, spec.hostMac, 'replace'),
    ]);
    await ipBatch(spec.hostNamespace, hostLines(spec, gateway));
    if (typeof spec.hostRouting === 'number') await this.#sourceRules(spec, spec.hostRouting);
    this.adoptInterface(spec);
    if (options.flush ?? true) await this.flush();
    return portName;
  }

  /** `ip rule from <address> table N` for a second ENI; `ip rule add` is not idempotent. */
  async #sourceRules(spec: AttachInterface, table: number): Promise<void> {
    const addresses = spec.hostAddresses ?? spec.addresses;
    for (const address of addresses) {
      const family = address.family === 4 ? '-4' : '-6';
      const { stdout } = await runCommand([
        'ip',
        family,
        '-n',
        spec.hostNamespace,
        'rule',
        'show',
        'from',
        address.text,
        'table',
        String(table),
      ]);
      if (stdout.trim() === '') {
        await ipBatch(spec.hostNamespace, [`rule add from ${address.text} table ${table}`]);
      }
    }
  }

  /**
   * Changes the private addresses of an attached ENI: the router's routes follow, and so do the
   * source check and every reference to the ENI's groups (its addresses are their members).
   */
  async setInterfaceAddresses(
    networkInterfaceId: string,
    addresses: readonly IpAddress[],
  ): Promise<void> {
    const port = this.#port(networkInterfaceId);
    const before = new Set(port.addresses.map((address) => address.text));
    const after = new Set(addresses.map((address) => address.text));
    const length = (address: IpAddress) => (address.family === 4 ? 32 : 128);
    await ipBatch(this.namespace, [
      ...addresses
        .filter((address) => !before.has(address.text))
        .map((address) => `route replace ${address.text}/${length(address)} dev ${port.portName}`),
      ...port.addresses
        .filter((address) => !after.has(address.text))
        .map((address) => `route del ${address.text}/${length(address)} dev ${port.portName}`),
      ...neighbourLines(
        addresses.filter((address) => !before.has(address.text)),
        port.portName,
        port.hostMac,
        'replace',
      ),
    ]);
    // A neighbour entry may already be gone with its route; missing ones are fine.
    await ipBatch(
      this.namespace,
      neighbourLines(
        port.addresses.filter((address) => !after.has(address.text)),
        port.portName,
        port.hostMac,
        'del',
      ),
    ).catch(() => undefined);
    const updated: Port = { ...port, addresses: [...addresses] };
    this.#ports.set(networkInterfaceId, updated);
    this.#model.setPort(routerPortOf(networkInterfaceId, updated));
  }

  /** Router-side links of this home's ports that no registered ENI or outside port owns. */
  async strayPortNames(): Promise<string[]> {
    const owned = new Set([...this.#ports.values()].map((port) => port.portName));
    const portPrefix = kernelName(this.#prefix, 'p');
    return (await linkNames(this.namespace)).filter(
      (name) => name.startsWith(portPrefix) && !owned.has(name),
    );
  }

  /** Deletes router-side links (and so their pairs); links already gone are fine. */
  async deleteLinks(names: readonly string[]): Promise<void> {
    const present = new Set(await linkNames(this.namespace));
    await ipBatch(
      this.namespace,
      names.filter((name) => present.has(name)).map((name) => `link del ${name}`),
    );
  }

  /**
   * Registers an ENI whose port already exists (after a restart, from the state store): no
   * command runs; the next `flush()` or `resync()` brings its rules in line.
   */
  adoptInterface(spec: AttachInterface): string {
    const portName = this.portNameOf(spec.networkInterfaceId);
    this.#register(spec.networkInterfaceId, {
      kind: 'eni',
      portName,
      addresses: spec.addresses,
      groupIds: [...spec.groupIds],
      sourceDestCheck: spec.sourceDestCheck ?? true,
      hostMac: spec.hostMac,
    });
    return portName;
  }

  /** Plugs in hosts outside the VPC: routed, never gated, free to use any source address. */
  async attachOutside(spec: AttachOutside): Promise<string> {
    const key = `outside:${spec.name}`;
    const portName = this.portNameOf(key);
    await this.#createPort(portName, spec.hostInterface, spec.hostNamespace, [
      `link set ${portName} up`,
      `addr replace ${outsideGateway}/32 dev ${portName} noprefixroute`,
      ...spec.addresses.map(
        (address) =>
          `route replace ${address.text}/${address.family === 4 ? 32 : 128} dev ${portName}`,
      ),
    ]);
    await ipBatch(spec.hostNamespace, [
      `link set ${spec.hostInterface} up`,
      ...spec.addresses.map(
        (address) =>
          `addr replace ${address.text}/${address.family === 4 ? 32 : 128} dev ${spec.hostInterface}`,
      ),
      `route replace default via ${outsideGateway} dev ${spec.hostInterface} onlink`,
    ]);
    this.#register(key, {
      kind: 'outside',
      portName,
      addresses: spec.addresses,
      groupIds: [],
      sourceDestCheck: false,
    });
    await this.flush();
    return portName;
  }

  /** Unplugs an ENI: its rules first, then the veth pair (the host end goes with it). */
  async detachInterface(networkInterfaceId: string): Promise<void> {
    await this.detachInterfaces([networkInterfaceId]);
  }

  /** Unplugs ENIs: their rules in one transaction, then their veth pairs in one batch. */
  async detachInterfaces(networkInterfaceIds: readonly string[]): Promise<void> {
    const names: string[] = [];
    for (const id of networkInterfaceIds) {
      const port = this.#ports.get(id);
      if (!port) continue;
      this.#ports.delete(id);
      this.#model.removePort(port.portName);
      names.push(port.portName);
    }
    if (names.length === 0) return;
    await this.flush();
    await this.deleteLinks(names);
  }

  /** Applies every pending change in one transaction; concurrent calls share it. */
  flush(): Promise<void> {
    if (this.#queued) return this.#queued;
    const queued = (async () => {
      await this.#inFlight?.catch(() => undefined);
      this.#queued = undefined;
      this.#inFlight = this.#applyNow();
      await this.#inFlight;
    })();
    this.#queued = queued;
    return queued;
  }

  /** Re-reads the kernel's table and applies whatever differs from the desired state. */
  async resync(): Promise<void> {
    this.#inSync = false;
    await this.flush();
  }

  /** The nft script a resync would apply now, read against the kernel (empty: in sync). */
  async pendingPlan(): Promise<string> {
    return planRuleset(await this.#kernelState(), this.#model.ruleset()).script;
  }

  async #applyNow(): Promise<void> {
    try {
      const started = performance.now();
      let script: string;
      if (this.#inSync) {
        script = this.#model.takeDelta();
        if (script === '') return;
      } else {
        script = planRuleset(await this.#kernelState(), this.#model.ruleset()).script;
        this.#model.discardDelta();
      }
      const planned = performance.now();
      await this.#nft.apply(script);
      this.#inSync = true;
      this.lastTransaction = {
        planMs: planned - started,
        nftMs: performance.now() - planned,
        lines: script.split('\n').length - 1,
      };
      this.transactions += 1;
      this.onTransaction?.(this.lastTransaction);
    } catch (error) {
      // The kernel may not hold what we think: the next flush reads it back (resync).
      this.#inSync = false;
      throw error;
    }
  }

  /** Drop counters per ENI (`egress`, `ingress`) and of spoofed packets. */
  async dropCounters(): Promise<{
    spoofed: number;
    byInterface: Map<string, { egress: number; ingress: number }>;
  }> {
    const counters = await readNftCounters(this.namespace, routerTable);
    const egress = await readNftSetCounters(
      this.namespace,
      routerTable,
      objectNames.drops('egress'),
    );
    const ingress = await readNftSetCounters(
      this.namespace,
      routerTable,
      objectNames.drops('ingress'),
    );
    const byInterface = new Map<string, { egress: number; ingress: number }>();
    for (const [eniId, port] of this.#ports) {
      if (port.kind !== 'eni') continue;
      byInterface.set(eniId, {
        egress: egress.get(port.portName) ?? 0,
        ingress: ingress.get(port.portName) ?? 0,
      });
    }
    return { spoofed: counters.get(objectNames.spoofCounter)?.packets ?? 0, byInterface };
  }

  /** Ends the nft session (the router's namespace and rules stay). */
  async close(): Promise<void> {
    await this.#inFlight?.catch(() => undefined);
    await this.#nft.close();
  }

  /** Removes the router namespace and with it every port and rule. */
  async destroy(): Promise<void> {
    await this.close();
    this.#ports.clear();
    await deleteNamespace(this.namespace);
  }
}

function routerPortOf(id: string, port: Port): RouterPort {
  return {
    portName: port.portName,
    kind: port.kind,
    networkInterfaceId: id,
    addresses: port.addresses,
    groupIds: port.groupIds,
    sourceDestCheck: port.sourceDestCheck,
  };
}

function hostLines(spec: AttachInterface, gateway: string): string[] {
  const device = spec.hostInterface;
  const addresses = spec.hostAddresses ?? spec.addresses;
  const lines = [
    ...(spec.hostMac ? [`link set dev ${device} address ${spec.hostMac}`] : []),
    `link set ${device} up`,
  ];
  for (const address of addresses) {
    lines.push(
      address.family === 4
        ? `addr replace ${address.text}/${spec.subnet.prefixLength} dev ${device}`
        : `addr replace ${address.text}/128 dev ${device} nodad`,
    );
  }
  const routing = spec.hostRouting ?? 'default';
  const hasV6 = spec.addresses.some((address) => address.family === 6);
  if (routing === 'default') {
    lines.push(`route replace default via ${gateway} dev ${device}`);
    if (hasV6) lines.push(`route replace ::/0 via ${ipv6Gateway} dev ${device}`);
  } else if (typeof routing === 'number') {
    lines.push(`route replace ${spec.subnet.text} dev ${device} table ${routing}`);
    lines.push(`route replace default via ${gateway} dev ${device} table ${routing}`);
    if (hasV6) lines.push(`route replace ::/0 via ${ipv6Gateway} dev ${device} table ${routing}`);
  }
  return lines;
}
