/**
 * Instances, RDS DB instances and their interfaces in the kernel. The committed state says which
 * hosts live and which interfaces are attached (or associated with a trunk); `reconcile()` makes
 * the kernel match: a network namespace per live host (with the VPC resolver in its
 * resolv.conf), a router port per attached interface (`eth<device index>`, MAC = the ENI's) and
 * per associated branch (`vlan.eth.<vlanId>` in the trunk's instance), each carrying its groups,
 * and a PostgreSQL per DB instance. It then moves hosts along: instances `pending` → `running`
 * once plugged in, `shutting-down` → `terminated` once their namespace is gone; DB instances
 * `creating` / `rebooting` → `available` once their server answers, `deleting` → gone.
 *
 * Reconciliation reads the whole desired state each pass and diffs it against what it applied,
 * so it is idempotent, and after a restart (or a crash anywhere) the first pass adopts what the
 * kernel still holds and removes what the state no longer wants.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { addNamespace, listNamespaces, setSysctls } from '../../../adapters/netns/netns.js';
import { removeNamespace } from '../../../adapters/netns/sweep.js';
import { instanceNamespaceName, kernelName, nameTag } from '../../../core/kernel-names.js';
import {
  nthAddress,
  parseCidr,
  parseIpAddress,
  type Cidr,
  type IpAddress,
} from '../../../core/net/ip-address.js';
import type { InstanceRow } from '../state/compute-store.js';
import type { Ec2Store } from '../state/ec2-store.js';
import type { DbInstanceRow } from '../state/rds-store.js';
import type { DatabaseHosts } from './database-hosts.js';
import type { AttachInterface, VpcRouter } from './vpc-router.js';

/** Source-routing tables for interfaces beyond the first (what Amazon Linux's ec2-net-utils uses). */
export const secondaryInterfaceTableBase = 10000;

/** Terminated instances stay visible in DescribeInstances this long, as on EC2 (about an hour). */
export const terminatedInstancesKeptMs = 60 * 60 * 1000;

/** The namespace of an instance: owned prefix + `i` + a tag of the instance id. */
export function instanceNamespaceOf(prefix: string, instanceId: string): string {
  return instanceNamespaceName(prefix, instanceId);
}

/** The namespace of an RDS DB instance: owned prefix + `d` + a tag of its identifier. */
export function databaseNamespaceOf(prefix: string, identifier: string): string {
  return kernelName(prefix, `d${nameTag(identifier, 7)}`);
}

export function branchInterfaceName(vlanId: number): string {
  return `vlan.eth.${vlanId}`;
}

/** The namespace of the EKS control plane's endpoint interface. */
export function controlPlaneNamespaceOf(prefix: string): string {
  return kernelName(prefix, 'eks');
}

/** The meta key naming the control plane's endpoint interface (made at the cloud's start). */
export const controlPlaneInterfaceKey = 'eksEndpointInterface';

/** A namespace the state wants: an instance, the host of an RDS DB instance, or the control plane's. */
type Host =
  | {
      readonly kind: 'instance';
      readonly id: string;
      readonly vpcId: string;
      readonly row: InstanceRow;
    }
  | {
      readonly kind: 'database';
      readonly id: string;
      readonly vpcId: string;
      readonly row: DbInstanceRow;
    }
  | {
      readonly kind: 'control-plane';
      readonly id: string;
      readonly vpcId: string;
    };

export interface DesiredPort extends AttachInterface {
  /** The instance id, or `rds:<identifier>`. */
  readonly hostId: string;
}

interface DesiredState {
  /** Live hosts by namespace. */
  readonly namespaces: Map<string, Host>;
  readonly ports: Map<string, DesiredPort>;
  readonly instances: readonly InstanceRow[];
  readonly databases: readonly DbInstanceRow[];
}

export interface ComputePlaneOptions {
  readonly store: Ec2Store;
  readonly prefix: string;
  readonly region: string;
  /** Absent: no kernel (API-only clouds); instances still move through their states. */
  readonly router?: VpcRouter | undefined;
  /** The engines of RDS DB instances (with the router). */
  readonly databases?: DatabaseHosts | undefined;
  readonly onError?: (error: unknown) => void;
  /** How many hosts are plugged in at once. */
  readonly concurrency?: number;
}

function address(text: string): IpAddress {
  const parsed = parseIpAddress(text);
  if (!parsed) throw new RangeError(`bad stored address ${text}`);
  return parsed;
}

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new RangeError(`bad stored CIDR ${text}`);
  return parsed.cidr;
}

/** What makes a port a different veth pair (anything else is changed in place). */
function identityOf(port: DesiredPort): string {
  return [
    port.hostNamespace,
    port.hostInterface,
    port.hostMac ?? '',
    port.subnet.text,
    String(port.hostRouting ?? 'default'),
  ].join('|');
}

/** The port of an interface on a host, or undefined when the interface or subnet is gone. */
type PortOf = (
  eniId: string,
  host: { hostId: string; namespace: string },
  hostInterface: string,
  routing: AttachInterface['hostRouting'],
  configured: 'primary' | 'all' | 'none',
) => DesiredPort | undefined;

/** The addresses configured inside the host: all, the primary only, or none (a CNI's job). */
function configuredAddresses(
  all: readonly IpAddress[],
  configured: 'primary' | 'all' | 'none',
): readonly IpAddress[] {
  if (configured === 'all') return all;
  return configured === 'primary' ? all.slice(0, 1) : [];
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((item, index) => item === b[index]);

export class ComputePlane {
  readonly #store: Ec2Store;
  readonly #prefix: string;
  readonly #region: string;
  readonly #router: VpcRouter | undefined;
  readonly #databases: DatabaseHosts | undefined;
  readonly #onError: (error: unknown) => void;
  readonly #concurrency: number;
  /** What the kernel holds, as far as this process knows (empty until the first pass). */
  readonly #applied = new Map<string, DesiredPort>();
  #namespaces = new Set<string>();
  #firstPass = true;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ComputePlaneOptions) {
    this.#store = options.store;
    this.#prefix = options.prefix;
    this.#region = options.region;
    this.#router = options.router;
    this.#databases = options.databases;
    this.#onError = options.onError ?? (() => undefined);
    this.#concurrency = options.concurrency ?? 8;
  }

  namespaceOf(instanceId: string): string {
    return instanceNamespaceOf(this.#prefix, instanceId);
  }

  databaseNamespaceOf(identifier: string): string {
    return databaseNamespaceOf(this.#prefix, identifier);
  }

  /** Brings the kernel to the committed state; concurrent calls share the next pass. */
  reconcile(): Promise<void> {
    if (this.#queued) return this.#queued;
    const queued = (async () => {
      await this.#running?.catch(() => undefined);
      this.#queued = undefined;
      this.#running = this.#pass();
      await this.#running;
    })();
    this.#queued = queued;
    return queued;
  }

  /** Runs a pass in the background; a failed pass is retried a second later. */
  reconcileSoon(): void {
    this.reconcile().catch((error: unknown) => {
      this.#onError(error);
      if (this.#closed || this.#retry) return;
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        if (!this.#closed) this.reconcileSoon();
      }, 1000);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    await this.#running?.catch(() => undefined);
  }

  #desired(): DesiredState {
    const store = this.#store;
    const { compute } = store;
    const instances = compute.instances();
    const live = new Map(
      instances
        .filter((row) => row.state === 'pending' || row.state === 'running')
        .map((row) => [row.instanceId, row]),
    );
    const subnets = new Map(store.subnets().map((subnet) => [subnet.subnetId, subnet]));
    const interfaces = new Map(
      compute.networkInterfaces().map((row) => [row.networkInterfaceId, row]),
    );
    const groups = compute.interfaceGroups();
    const addresses = compute.addresses();
    const ports = new Map<string, DesiredPort>();
    /** Attached interface → its (live) instance. */
    const attachedTo = new Map<string, string>();
    const portOf: PortOf = (eniId, host, hostInterface, routing, configured) => {
      const row = interfaces.get(eniId);
      const subnet = row ? subnets.get(row.subnetId) : undefined;
      if (!row || !subnet) return undefined;
      const all = (addresses.get(eniId) ?? []).map((item) => address(item.address));
      return {
        hostId: host.hostId,
        networkInterfaceId: eniId,
        hostNamespace: host.namespace,
        hostInterface,
        addresses: all,
        subnet: cidr(subnet.cidrBlock),
        groupIds: groups.get(eniId) ?? [],
        sourceDestCheck: row.sourceDestCheck,
        hostAddresses: configuredAddresses(all, configured),
        hostMac: row.macAddress,
        hostRouting: routing,
      };
    };
    for (const attachment of compute.attachments()) {
      const instance = live.get(attachment.instanceId);
      if (!instance) continue;
      attachedTo.set(attachment.networkInterfaceId, instance.instanceId);
      const port = portOf(
        attachment.networkInterfaceId,
        { hostId: instance.instanceId, namespace: this.namespaceOf(instance.instanceId) },
        `eth${attachment.deviceIndex}`,
        attachment.deviceIndex === 0
          ? 'default'
          : secondaryInterfaceTableBase + attachment.deviceIndex,
        'primary',
      );
      if (port) ports.set(port.networkInterfaceId, port);
    }
    for (const association of compute.trunkAssociations()) {
      const trunkInstance = attachedTo.get(association.trunkInterfaceId);
      const instance = trunkInstance ? live.get(trunkInstance) : undefined;
      if (!instance) continue;
      // The pod side (addresses, routes) is the CNI plugin's to configure, as on a real trunk.
      const port = portOf(
        association.branchInterfaceId,
        { hostId: instance.instanceId, namespace: this.namespaceOf(instance.instanceId) },
        branchInterfaceName(association.vlanId),
        'none',
        'none',
      );
      if (port) ports.set(port.networkInterfaceId, port);
    }
    const namespaces = new Map<string, Host>(
      [...live.values()].map((row) => [
        this.namespaceOf(row.instanceId),
        { kind: 'instance', id: row.instanceId, vpcId: row.vpcId, row },
      ]),
    );
    const databases = store.rds.instances();
    for (const row of databases) {
      if (row.status === 'deleting' || !row.networkInterfaceId) continue;
      const namespace = this.databaseNamespaceOf(row.identifier);
      const hostId = `rds:${row.identifier}`;
      const port = portOf(
        row.networkInterfaceId,
        { hostId, namespace },
        'eth0',
        'default',
        'primary',
      );
      if (!port) continue;
      ports.set(port.networkInterfaceId, port);
      const vpcId = interfaces.get(row.networkInterfaceId)?.vpcId ?? '';
      namespaces.set(namespace, { kind: 'database', id: hostId, vpcId, row });
    }
    this.#addControlPlane(portOf, ports, namespaces, interfaces);
    return { namespaces, ports, instances, databases };
  }

  /** The control plane's interface and namespace, once the cloud has made the interface. */
  #addControlPlane(
    portOf: PortOf,
    ports: Map<string, DesiredPort>,
    namespaces: Map<string, Host>,
    interfaces: ReadonlyMap<string, { readonly vpcId: string }>,
  ): void {
    const eniId = this.#store.meta(controlPlaneInterfaceKey);
    if (eniId === undefined) return;
    // The API server on the primary address, the AWS endpoints on the secondary one.
    const port = portOf(
      eniId,
      { hostId: 'eks:control-plane', namespace: controlPlaneNamespaceOf(this.#prefix) },
      'eth0',
      'default',
      'all',
    );
    if (!port) return;
    ports.set(port.networkInterfaceId, port);
    namespaces.set(port.hostNamespace, {
      kind: 'control-plane',
      id: port.hostId,
      vpcId: interfaces.get(port.networkInterfaceId)?.vpcId ?? '',
    });
  }

  async #pass(): Promise<void> {
    const desired = this.#desired();
    const router = this.#router;
    if (router) {
      if (this.#firstPass) await this.#adopt();
      await this.#destroyDeletedDatabases(desired);
      await this.#removePorts(router, desired);
      await this.#removeNamespaces(desired);
      await this.#updatePorts(router, desired);
      await this.#plugIn(router, desired);
      await router.flush();
      await this.#tendDatabases(desired);
    }
    this.#firstPass = false;
    this.#advanceStates(desired);
  }

  /**
   * After a start: learn which instance namespaces the kernel kept. Their ports are plugged in
   * again below (idempotently: existing links are kept), which registers them with the router.
   */
  async #adopt(): Promise<void> {
    const hostPrefixes = [kernelName(this.#prefix, 'i'), kernelName(this.#prefix, 'd')];
    const controlPlane = controlPlaneNamespaceOf(this.#prefix);
    this.#namespaces = new Set(
      (await listNamespaces()).filter(
        (name) => name === controlPlane || hostPrefixes.some((prefix) => name.startsWith(prefix)),
      ),
    );
  }

  /** DeleteDBInstance: the server stops and its data goes before its namespace does. */
  async #destroyDeletedDatabases(desired: DesiredState): Promise<void> {
    const databases = this.#databases;
    if (!databases) return;
    for (const row of desired.databases) {
      if (row.status === 'deleting') await databases.destroy(row.identifier);
    }
  }

  /** DB hosts already plugged in: a server that is down, a reboot, a new password. */
  async #tendDatabases(desired: DesiredState): Promise<void> {
    const work = [...desired.namespaces].filter(
      ([, host]) =>
        host.kind === 'database' &&
        host.row.status !== 'failed' &&
        this.#databases?.needsWork(host.row) === true,
    );
    await this.#inParallel(work, async ([namespace, host]) => {
      if (host.kind === 'database') await this.#startDatabase(namespace, host.row);
    });
  }

  /**
   * Brings a DB's server up; `available` once it answers. An engine that cannot start makes the
   * DB `failed`, as RDS does (the reason is reported), instead of being retried forever.
   */
  async #startDatabase(namespace: string, row: DbInstanceRow): Promise<void> {
    if (row.status === 'failed') return;
    try {
      await this.#databases?.ensure(row, namespace);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.#onError(new Error(`RDS instance ${row.identifier} failed: ${reason}`));
      this.#store.rds.setStatus(row.identifier, row.status, 'failed');
      return;
    }
    for (const from of ['creating', 'rebooting', 'modifying'] as const) {
      if (row.status === from) this.#store.rds.setStatus(row.identifier, from, 'available');
    }
  }

  async #removePorts(router: VpcRouter, desired: DesiredState): Promise<void> {
    const gone = [...this.#applied]
      .filter(([eniId, applied]) => {
        const wanted = desired.ports.get(eniId);
        return !wanted || identityOf(wanted) !== identityOf(applied);
      })
      .map(([eniId]) => eniId);
    await router.detachInterfaces(gone);
    for (const eniId of gone) this.#applied.delete(eniId);
    if (!this.#firstPass) return;
    // Ports the kernel kept from before a restart: re-plugged below if wanted, else removed.
    const wanted = new Set([...desired.ports.keys()].map((id) => router.portNameOf(id)));
    const unwanted = (await router.strayPortNames()).filter((name) => !wanted.has(name));
    if (unwanted.length > 0) await router.deleteLinks(unwanted);
  }

  async #removeNamespaces(desired: DesiredState): Promise<void> {
    const gone = [...this.#namespaces].filter((namespace) => !desired.namespaces.has(namespace));
    await this.#inParallel(gone, async (namespace) => {
      await removeNamespace(namespace);
      this.#namespaces.delete(namespace);
    });
  }

  async #inParallel<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const errors: unknown[] = [];
    const worker = async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        try {
          await work(item);
        } catch (error) {
          errors.push(error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, items.length) }, worker));
    if (errors.length > 0) throw errors[0];
  }

  async #createNamespace(namespace: string, vpcId: string): Promise<void> {
    this.#writeResolvConf(namespace, vpcId);
    await addNamespace(namespace);
    await setSysctls(namespace, {
      // An instance does not forward; unprivileged ping works as on Amazon Linux; reverse-path
      // filtering is loose (as the VPC CNI sets it), since replies to a branch ENI's address
      // come in on its VLAN interface while the main table points elsewhere.
      'net.ipv4.ip_forward': 0,
      'net.ipv4.ping_group_range': '0 2147483647',
      'net.ipv4.conf.all.rp_filter': 2,
      'net.ipv4.conf.default.rp_filter': 2,
    });
    this.#namespaces.add(namespace);
  }

  /** `ip netns exec` mounts /etc/netns/<namespace>/resolv.conf over /etc/resolv.conf. */
  #writeResolvConf(namespace: string, vpcId: string): void {
    const vpc = this.#store.vpcs().find((row) => row.vpcId === vpcId);
    if (!vpc) return;
    const resolver = nthAddress(cidr(vpc.cidrBlock), 2).text;
    const search =
      this.#region === 'us-east-1' ? 'ec2.internal' : `${this.#region}.compute.internal`;
    const directory = `/etc/netns/${namespace}`;
    mkdirSync(directory, { recursive: true });
    writeFileSync(
      `${directory}/resolv.conf`,
      `# the VPC resolver (AmazonProvidedDNS), written by sgpods\nsearch ${search}\nnameserver ${resolver}\noptions timeout:2 attempts:5\n`,
    );
  }

  /** Groups, source/dest check and addresses of ports already plugged in, changed in place. */
  async #updatePorts(router: VpcRouter, desired: DesiredState): Promise<void> {
    const texts = (list: readonly IpAddress[]) => list.map((item) => item.text);
    for (const [eniId, port] of desired.ports) {
      const applied = this.#applied.get(eniId);
      if (!applied) continue;
      if (!sameList(applied.groupIds, port.groupIds)) {
        router.setInterfaceGroups(eniId, port.groupIds);
      }
      if ((applied.sourceDestCheck ?? true) !== (port.sourceDestCheck ?? true)) {
        router.setSourceDestCheck(eniId, port.sourceDestCheck ?? true);
      }
      if (!sameList(texts(applied.addresses), texts(port.addresses))) {
        await router.setInterfaceAddresses(eniId, port.addresses);
      }
      this.#applied.set(eniId, port);
    }
  }

  /**
   * New namespaces and ports, host by host (several at once): an instance is marked `running`
   * as soon as its namespace, its ports and their rules are in the kernel; a DB instance becomes
   * `available` once its server answers there.
   */
  async #plugIn(router: VpcRouter, desired: DesiredState): Promise<void> {
    const newPorts = new Map<string, DesiredPort[]>();
    for (const port of desired.ports.values()) {
      if (this.#applied.has(port.networkInterfaceId)) continue;
      newPorts.set(port.hostId, [...(newPorts.get(port.hostId) ?? []), port]);
    }
    const work = [...desired.namespaces].filter(
      ([namespace, host]) => !this.#namespaces.has(namespace) || newPorts.has(host.id),
    );
    await this.#inParallel(work, async ([namespace, host]) => {
      if (!this.#namespaces.has(namespace)) await this.#createNamespace(namespace, host.vpcId);
      // Primary interfaces first: a second interface's routes need the namespace's eth0 up.
      const ports = (newPorts.get(host.id) ?? []).sort((a, b) =>
        a.hostInterface.localeCompare(b.hostInterface),
      );
      for (const port of ports) {
        await router.attachInterface(port, { flush: false });
        this.#applied.set(port.networkInterfaceId, port);
      }
      await router.flush();
      if (host.kind === 'database') {
        await this.#startDatabase(namespace, host.row);
      } else if (host.kind === 'instance' && host.row.state === 'pending') {
        this.#store.compute.setInstanceState(
          host.id,
          'pending',
          'running',
          new Date().toISOString(),
        );
      }
    });
  }

  #advanceStates(desired: DesiredState): void {
    const { compute } = this.#store;
    const now = new Date().toISOString();
    const waiting = new Set<string>();
    for (const port of desired.ports.values()) {
      if (this.#router && !this.#applied.has(port.networkInterfaceId)) waiting.add(port.hostId);
    }
    const forgetBefore = new Date(Date.now() - terminatedInstancesKeptMs).toISOString();
    this.#store.transaction(() => {
      for (const instance of desired.instances) {
        const namespace = this.namespaceOf(instance.instanceId);
        if (instance.state === 'pending') {
          const ready = !this.#router || this.#namespaces.has(namespace);
          if (ready && !waiting.has(instance.instanceId)) {
            compute.setInstanceState(instance.instanceId, 'pending', 'running', now);
          }
        } else if (instance.state === 'terminated') {
          if (instance.stateChangedAt < forgetBefore) compute.deleteInstance(instance.instanceId);
        } else if (instance.state === 'shutting-down') {
          if (!this.#namespaces.has(namespace)) {
            compute.setInstanceState(
              instance.instanceId,
              'shutting-down',
              'terminated',
              now,
              instance.stateReason,
            );
          }
        }
      }
      for (const row of desired.databases) this.#advanceDatabase(row);
    });
  }

  /** DB instance states that need no engine: all of them without a kernel; deletion with one. */
  #advanceDatabase(row: DbInstanceRow): void {
    const { rds, compute } = this.#store;
    if (row.status === 'deleting') {
      if (this.#router && this.#namespaces.has(this.databaseNamespaceOf(row.identifier))) return;
      rds.deleteInstance(row.identifier);
      if (row.networkInterfaceId) compute.deleteNetworkInterface(row.networkInterfaceId);
    } else if (!this.#router && row.status !== 'available' && row.status !== 'failed') {
      rds.setStatus(row.identifier, row.status, 'available');
    }
  }
}
