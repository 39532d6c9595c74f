/** A small VPC for router tests: a router, hosts with one ENI each, probes in every host. */
import { addNamespace, ipBatch } from '../../src/adapters/netns/netns.js';
import { parseCidr, parseIpAddress, type IpAddress } from '../../src/core/net/ip-address.js';
import { normalizeRule, type Direction, type RuleSpec } from '../../src/core/sg/rule.js';
import { newGroupRules, type SecurityGroup } from '../../src/core/sg/security-group.js';
import { VpcRouter } from '../../src/servers/cloud/dataplane/vpc-router.js';
import { NetnsProbe } from './netns-probe.js';
import type { TestHome } from './test-home.js';

export function ip(text: string): IpAddress {
  const address = parseIpAddress(text);
  if (!address) throw new Error(text);
  return address;
}

const parsedSubnet = parseCidr('10.0.0.0/16');
if (!parsedSubnet) throw new Error('bad subnet');
export const subnet = parsedSubnet.cidr;

export function group(
  groupId: string,
  rules: [Direction, RuleSpec][],
  keepDefaultEgress = true,
): SecurityGroup {
  return {
    groupId,
    groupName: groupId,
    rules: [
      ...rules.map(([direction, spec]) => normalizeRule(groupId, direction, spec)),
      ...(keepDefaultEgress ? newGroupRules(groupId) : []),
    ],
  };
}

export interface FixtureHost {
  readonly namespace: string;
  readonly eniId: string;
  readonly address: string;
  readonly probe: NetnsProbe;
}

export class RouterFixture {
  readonly hosts = new Map<string, FixtureHost>();

  private constructor(
    readonly home: TestHome,
    readonly router: VpcRouter,
  ) {}

  /** Hosts on a router someone else owns (the cloud's); `stop` then leaves the router alone. */
  static adopt(home: TestHome, router: VpcRouter): RouterFixture {
    const fixture = new RouterFixture(home, router);
    fixture.#ownsRouter = false;
    return fixture;
  }

  #ownsRouter = true;

  static async start(home: TestHome, groups: SecurityGroup[]): Promise<RouterFixture> {
    const router = await VpcRouter.open({ prefix: home.prefix, namespace: `${home.prefix}r` });
    router.setGroups(groups);
    return new RouterFixture(home, router);
  }

  async addHost(
    name: string,
    address: string,
    groupIds: string[],
    sourceDestCheck = true,
    hostSubnet = subnet,
  ): Promise<FixtureHost> {
    const namespace = `${this.home.prefix}h${this.hosts.size}`;
    await addNamespace(namespace);
    const eniId = `eni-${(this.hosts.size + 1).toString(16).padStart(17, '0')}`;
    await this.router.attachInterface({
      networkInterfaceId: eniId,
      hostNamespace: namespace,
      hostInterface: 'eth0',
      addresses: [ip(address)],
      subnet: hostSubnet,
      groupIds,
      sourceDestCheck,
    });
    const host = { namespace, eniId, address, probe: new NetnsProbe(namespace) };
    await host.probe.ready;
    this.hosts.set(name, host);
    return host;
  }

  host(name: string): FixtureHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(name);
    return host;
  }

  async tcp(
    from: string,
    to: string,
    port: number,
    options: { keep?: string; timeoutMs?: number; src?: string } = {},
  ): Promise<boolean> {
    const source = this.host(from);
    const reply = await source.probe.request('tcp', {
      src: options.src ?? source.address,
      dst: this.host(to).address,
      port,
      timeout: (options.timeoutMs ?? 5000) / 1000,
      ...(options.keep ? { keep: options.keep } : {}),
    });
    return reply.ok === true;
  }

  async addAddress(name: string, address: string): Promise<void> {
    await ipBatch(this.host(name).namespace, [`addr add ${address}/32 dev eth0`]);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((host) => host.probe.close()));
    if (this.#ownsRouter) await this.router.destroy();
  }
}
