/**
 * The security-group evaluator at EC2 quota scale: 2,500 groups × 60 rules (150,000 rules),
 * 10,000 interfaces. Measures loading describe-shaped JSON, building the index, and query
 * latency; the baseline answers the same queries by scanning every rule.
 */
import { readSecurityGroups, readNetworkInterfaces } from '../src/adapters/ec2/describe-output.js';
import { cidrContains, type IpAddress } from '../src/core/net/ip-address.js';
import { evaluateFlow, type Flow } from '../src/core/sg/evaluator.js';
import type { SecurityGroupRule } from '../src/core/sg/rule.js';
import { World, type NetworkInterface } from '../src/core/sg/world.js';
import { percentile, SeededRandom } from './random.js';
import type { Benchmark } from './run.js';

const groupCount = 2500;
const rulesPerGroup = 60;
const interfaceCount = 10_000;
const queryCount = 20_000;
const baselineQueryCount = 300;

const hex = (n: number, width = 17): string => n.toString(16).padStart(width, '0');
const groupId = (i: number): string => `sg-${hex(i + 1)}`;

function addressOf(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function describePermission(random: SeededRandom, index: number): Record<string, unknown> {
  const kind = random.int(10);
  const peer =
    kind < 4
      ? { UserIdGroupPairs: [{ GroupId: groupId(random.int(groupCount)) }] }
      : {
          IpRanges: [
            {
              CidrIp: `10.${random.int(40)}.${random.int(256)}.0/${random.pick([16, 20, 24, 28])}`,
            },
          ],
        };
  const traffic =
    kind === 9
      ? { IpProtocol: '-1' }
      : kind === 8
        ? { IpProtocol: 'icmp', FromPort: random.pick([-1, 0, 3, 8]), ToPort: -1 }
        : {
            IpProtocol: random.pick(['tcp', 'udp']),
            FromPort: 1000 + index * 10,
            ToPort: 1000 + index * 10 + random.int(10),
          };
  return { ...traffic, ...peer };
}

export function makeDocuments(random: SeededRandom): { groups: unknown; interfaces: unknown } {
  const SecurityGroups = Array.from({ length: groupCount }, (_, g) => {
    const ingress = Array.from({ length: rulesPerGroup }, (_, r) => describePermission(random, r));
    const egress = Array.from({ length: rulesPerGroup }, (_, r) => describePermission(random, r));
    return {
      GroupId: groupId(g),
      GroupName: `group-${g}`,
      IpPermissions: ingress,
      IpPermissionsEgress: egress,
    };
  });
  const NetworkInterfaces = Array.from({ length: interfaceCount }, (_, e) => {
    const addresses = [addressOf(e * 3 + 1), addressOf(e * 3 + 2)];
    const groups = Array.from({ length: 1 + random.int(5) }, () => ({
      GroupId: groupId(random.int(groupCount)),
    }));
    return {
      NetworkInterfaceId: `eni-${hex(e + 1)}`,
      PrivateIpAddresses: addresses.map((PrivateIpAddress, i) => ({
        PrivateIpAddress,
        Primary: i === 0,
      })),
      Groups: groups.filter((g, i) => groups.findIndex((o) => o.GroupId === g.GroupId) === i),
    };
  });
  return { groups: { SecurityGroups }, interfaces: { NetworkInterfaces } };
}

function makeFlows(
  random: SeededRandom,
  interfaces: readonly NetworkInterface[],
  count: number,
): Flow[] {
  return Array.from({ length: count }, () => {
    const source = random.pick(random.pick(interfaces).addresses);
    const destination = random.pick(random.pick(interfaces).addresses);
    const protocol = random.pick([6, 6, 6, 17, 1]);
    return protocol === 1
      ? { source, destination, protocol, icmpType: 8, icmpCode: 0 }
      : { source, destination, protocol, port: 1000 + random.int(600) };
  });
}

/** The baseline: no index; every rule of every group is looked at. */
function bruteForceVerdict(
  rules: readonly SecurityGroupRule[],
  interfaces: readonly NetworkInterface[],
  flow: Flow,
): boolean {
  const at = (a: IpAddress) =>
    interfaces.find((eni) => eni.addresses.some((x) => x.text === a.text));
  const gate = (
    eni: NetworkInterface | undefined,
    direction: 'ingress' | 'egress',
    peer: IpAddress,
  ): boolean =>
    !eni ||
    rules.some((rule) => {
      if (rule.direction !== direction || !eni.groupIds.includes(rule.groupId)) return false;
      if (rule.protocol !== 'all' && rule.protocol !== flow.protocol) return false;
      if (
        rule.protocol !== 'all' &&
        rule.ports.kind === 'range' &&
        (flow.port === undefined || flow.port < rule.ports.from || flow.port > rule.ports.to)
      )
        return false;
      if (rule.peer.kind === 'cidr') return cidrContains(rule.peer.cidr, peer);
      if (rule.peer.kind === 'group') {
        const groupIdOfPeer = rule.peer.groupId;
        return interfaces.some(
          (other) =>
            other.groupIds.includes(groupIdOfPeer) &&
            other.addresses.some((x) => x.text === peer.text),
        );
      }
      return false;
    });
  return (
    gate(at(flow.source), 'egress', flow.destination) &&
    gate(at(flow.destination), 'ingress', flow.source)
  );
}

function timeQueries(flows: readonly Flow[], query: (flow: Flow) => unknown): number[] {
  const times = flows.map((flow) => {
    const start = process.hrtime.bigint();
    query(flow);
    return Number(process.hrtime.bigint() - start) / 1e6;
  });
  return times.sort((a, b) => a - b);
}

export const evaluatorBenchmark: Benchmark = {
  name: 'evaluator',
  run() {
    const random = new SeededRandom(20261126);
    const documents = makeDocuments(random);
    const heapBefore = process.memoryUsage().heapUsed;
    const loadStart = performance.now();
    const groups = readSecurityGroups(documents.groups, 'groups');
    const interfaces = readNetworkInterfaces(documents.interfaces, 'interfaces');
    const loadMs = performance.now() - loadStart;
    const buildStart = performance.now();
    const world = new World({ groups, networkInterfaces: interfaces });
    const buildMs = performance.now() - buildStart;
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;

    const warmup = makeFlows(random, interfaces, 2000);
    for (const flow of warmup) evaluateFlow(world, flow);
    const flows = makeFlows(random, interfaces, queryCount);
    let allowed = 0;
    const times = timeQueries(flows, (flow) => {
      if (evaluateFlow(world, flow).verdict === 'allow') allowed += 1;
    });
    const rules = groups.flatMap((group) => group.rules);
    const baselineFlows = flows.slice(0, baselineQueryCount);
    const baselineTimes = timeQueries(baselineFlows, (flow) =>
      bruteForceVerdict(rules, interfaces, flow),
    );
    for (const flow of baselineFlows.slice(0, 50)) {
      const fast = evaluateFlow(world, flow).verdict === 'allow';
      if (fast !== bruteForceVerdict(rules, interfaces, flow))
        throw new Error('evaluator and baseline disagree');
    }
    return {
      evaluator_rules_count: rules.length,
      evaluator_interfaces_count: interfaces.length,
      evaluator_load_ms: loadMs,
      evaluator_index_build_ms: buildMs,
      evaluator_index_heap_mb: heapMb,
      evaluator_query_p50_ms: percentile(times, 50),
      evaluator_query_p99_ms: percentile(times, 99),
      evaluator_query_max_ms: times.at(-1) ?? Number.NaN,
      evaluator_allowed_fraction: allowed / flows.length,
      baseline_bruteforce_query_p50_ms: percentile(baselineTimes, 50),
      baseline_bruteforce_query_p99_ms: percentile(baselineTimes, 99),
    };
  },
};
