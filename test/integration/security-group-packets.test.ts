/**
 * The shared security-group case table, on real packets: a VPC router namespace, one namespace
 * per host, ENIs as veth ports, rules compiled to nftables. Every check of every case must agree
 * with the evaluator's verdict; a denial must also show on the router's drop counters (so a
 * packet lost for another reason cannot pass for a denial).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCidr, parseIpAddress, type IpAddress } from '../../src/core/net/ip-address.js';
import { evaluateFlow } from '../../src/core/sg/evaluator.js';
import { parseProtocol } from '../../src/core/sg/protocol.js';
import { VpcRouter } from '../../src/servers/cloud/dataplane/vpc-router.js';
import { buildCaseWorld, buildCaseWorldInput, caseFlow } from '../conformance/build-case-world.js';
import {
  securityGroupCases,
  type CaseCheck,
  type SecurityGroupCase,
} from '../conformance/security-group-cases.js';
import { eventually, NetnsProbe } from '../support/netns-probe.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';

/** Cases that need parts of the sandbox this layer does not have, with the reason. */
const notOnPackets: Record<string, string> = {
  '#40':
    'the VPC resolver and link-local services are served by the router itself (sandbox wiring, issue 11)',
};

const allowWaitMs = 5000;
const denyWaitMs = 400;
let tokenCounter = 0;

function address(text: string): IpAddress {
  const parsed = parseIpAddress(text);
  if (!parsed) throw new Error(text);
  return parsed;
}

function subnetOf(text: string) {
  const [a, b] = text.split('.');
  const parsed = parseCidr(`${a}.${b}.0.0/16`);
  if (!parsed) throw new Error(text);
  return parsed.cidr;
}

class CaseNetwork {
  readonly probes = new Map<string, NetnsProbe>();
  readonly hostOfAddress = new Map<string, string>();
  readonly listening = new Set<string>();
  router: VpcRouter | undefined;

  constructor(
    readonly home: TestHome,
    readonly testCase: SecurityGroupCase,
  ) {}

  async start(): Promise<void> {
    const { prefix } = this.home;
    const router = await VpcRouter.open({ prefix, namespace: `${prefix}r` });
    this.router = router;
    const input = buildCaseWorldInput(this.testCase);
    router.setGroups(input.groups);
    router.setPrefixLists(input.prefixLists ?? []);
    const hosts = new Map<string, number>();
    const entries = Object.entries(this.testCase.interfaces);
    for (const [index, [alias, eni]] of entries.entries()) {
      const hostKey = eni.host ?? alias;
      const deviceIndex = hosts.get(hostKey) ?? 0;
      hosts.set(hostKey, deviceIndex + 1);
      const namespace = `${prefix}h${[...hosts.keys()].indexOf(hostKey)}`;
      if (!this.probes.has(namespace)) await this.#startHost(namespace);
      const world = input.networkInterfaces[index];
      if (!world) throw new Error(alias);
      await router.attachInterface({
        networkInterfaceId: world.networkInterfaceId,
        hostNamespace: namespace,
        hostInterface: `eth${deviceIndex}`,
        addresses: world.addresses,
        subnet: subnetOf(eni.addresses[0] ?? ''),
        groupIds: world.groupIds,
        hostRouting: deviceIndex === 0 ? 'default' : 100 + deviceIndex,
      });
      for (const text of eni.addresses) this.hostOfAddress.set(address(text).text, namespace);
    }
    await this.#startOutside();
    await Promise.all([...this.probes.values()].map((probe) => probe.ready));
  }

  async #startHost(namespace: string): Promise<void> {
    const { addNamespace } = await import('../../src/adapters/netns/netns.js');
    await addNamespace(namespace);
    this.probes.set(namespace, new NetnsProbe(namespace));
  }

  /** Addresses outside the VPC that checks use live in one outside host. */
  async #startOutside(): Promise<void> {
    const outside = new Set<string>();
    for (const check of this.testCase.checks) {
      for (const text of [check.from, check.to])
        if (!this.hostOfAddress.has(address(text).text)) outside.add(address(text).text);
    }
    if (outside.size === 0) return;
    const namespace = `${this.home.prefix}x`;
    await this.#startHost(namespace);
    await this.routerOf().attachOutside({
      name: 'outside',
      hostNamespace: namespace,
      hostInterface: 'eth0',
      addresses: [...outside].map(address),
    });
    for (const text of outside) this.hostOfAddress.set(text, namespace);
  }

  probeAt(text: string): NetnsProbe {
    const namespace = this.hostOfAddress.get(address(text).text);
    const probe = namespace ? this.probes.get(namespace) : undefined;
    if (!probe) throw new Error(`no host for ${text}`);
    return probe;
  }

  async listen(at: string, proto: string, port: number | undefined, family: 4 | 6): Promise<void> {
    const probe = this.probeAt(at);
    const key = `${probe.namespace}/${proto}/${port ?? ''}/${family}`;
    if (this.listening.has(key)) return;
    this.listening.add(key);
    const reply = await probe.request('listen', { proto, port, family });
    if (reply.ok !== true) throw new Error(`listen ${key}: ${JSON.stringify(reply)}`);
  }

  /** One flow on the wire: true when it got through (and, for tcp/udp, its reply came back). */
  async send(
    check: Pick<CaseCheck, 'from' | 'to' | 'protocol' | 'port' | 'icmpType' | 'icmpCode'>,
    waitMs: number,
  ): Promise<boolean> {
    const family = address(check.from).family;
    const protocol = parseProtocol(check.protocol);
    const source = this.probeAt(check.from);
    const common = {
      src: address(check.from).text,
      dst: address(check.to).text,
      timeout: waitMs / 1000,
    };
    if (protocol === 6 || protocol === 17) {
      const proto = protocol === 6 ? 'tcp' : 'udp';
      await this.listen(check.to, proto, check.port, family);
      const reply = await source.request(proto, {
        ...common,
        port: check.port,
        token: `t${tokenCounter++}`.padEnd(16, '_'),
      });
      return reply.ok === true;
    }
    const proto = protocol === 'all' ? 6 : protocol;
    await this.listen(check.to, String(proto), undefined, family);
    const token = `r${tokenCounter++}`.padEnd(16, '_');
    await source.request('raw-send', {
      ...common,
      proto,
      icmpType: check.icmpType ?? 8,
      icmpCode: check.icmpCode ?? 0,
      token,
    });
    const destination = this.probeAt(check.to);
    return eventually(
      async () => (await destination.request('seen', { token })).seen === true,
      waitMs,
    );
  }

  routerOf(): VpcRouter {
    if (!this.router) throw new Error('router not started');
    return this.router;
  }

  async totalDrops(): Promise<number> {
    const counters = await this.routerOf().dropCounters();
    let total = counters.spoofed;
    for (const value of counters.byInterface.values()) total += value.egress + value.ingress;
    return total;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.probes.values()].map((probe) => probe.close()));
    await this.router?.destroy();
  }
}

/** `-1` checks (all traffic) are sampled on the wire: tcp, udp, icmp echo and GRE. */
function samplesOf(check: CaseCheck): CaseCheck[] {
  if (check.protocol !== '-1') return [check];
  const icmp = address(check.from).family === 4 ? 'icmp' : 'icmpv6';
  return [
    { ...check, protocol: 'tcp', port: 8080 },
    { ...check, protocol: 'udp', port: 5353 },
    { ...check, protocol: icmp, icmpType: address(check.from).family === 4 ? 8 : 128, icmpCode: 0 },
    { ...check, protocol: '47' },
  ];
}

describe.skipIf(!isRoot)('security groups on real packets (shared case table)', () => {
  let home: TestHome;
  beforeAll(() => {
    home = createTestHome();
  });
  afterAll(async () => {
    await home.cleanup();
    expect(await home.ownedNamespaces()).toEqual([]);
  });

  for (const testCase of securityGroupCases) {
    const skipReason = notOnPackets[testCase.id];
    it.skipIf(skipReason !== undefined)(
      `${testCase.id} ${testCase.title}${skipReason ? ` (not on packets: ${skipReason})` : ''}`,
      async () => {
        const network = new CaseNetwork(home, testCase);
        try {
          await network.start();
          const world = buildCaseWorld(testCase);
          for (const check of testCase.checks) {
            const expected = evaluateFlow(world, caseFlow(check)).verdict;
            expect(expected, `evaluator on ${JSON.stringify(check)}`).toBe(check.expect);
            const samples = samplesOf(check);
            const dropsBefore = await network.totalDrops();
            const results: boolean[] = [];
            for (const sample of samples) {
              results.push(
                await network.send(sample, check.expect === 'allow' ? allowWaitMs : denyWaitMs),
              );
            }
            const onWire =
              check.expect === 'allow' ? results.every(Boolean) : !results.every(Boolean);
            expect(onWire, `packets for ${JSON.stringify(check)}: ${JSON.stringify(results)}`).toBe(
              true,
            );
            if (check.expect === 'deny')
              expect(await network.totalDrops()).toBeGreaterThan(dropsBefore);
          }
        } finally {
          await network.stop();
        }
      },
    );
  }
});
