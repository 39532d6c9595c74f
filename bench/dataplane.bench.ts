/**
 * The dataplane at scale (root only): 2,500 groups, 20,000 rules, 5,000 ENIs in one router.
 * Two ENIs carry real traffic; the other 4,998 exist as rules only (adopted without links), so
 * every packet meets a full-size ruleset.
 *
 * - new-flow cost: TCP connections/s over fresh 5-tuples, against the same topology with
 *   conntrack only (no rules) and with a naive chain of one rule per line (20,000 lines);
 *   medians of interleaved runs; bulk TCP throughput ratio too;
 * - change → live: one rule added, one membership change, until nft has committed (p99);
 * - full resync of the whole world into an empty table.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../src/adapters/exec/run-command.js';
import { addNamespace, deleteNamespace } from '../src/adapters/netns/netns.js';
import { applyNftScript } from '../src/adapters/nft/nft.js';
import { kernelPrefix } from '../src/core/kernel-names.js';
import { parseCidr, parseIpAddress, type IpAddress } from '../src/core/net/ip-address.js';
import { normalizeRule, type RuleSpec, type SecurityGroupRule } from '../src/core/sg/rule.js';
import { newGroupRules, type SecurityGroup } from '../src/core/sg/security-group.js';
import { routerTable, VpcRouter } from '../src/servers/cloud/dataplane/vpc-router.js';
import { percentile, SeededRandom } from './random.js';
import type { Benchmark } from './run.js';

const groupCount = 2500;
const ruleCount = 20_000;
const interfaceCount = 5000;
const runs = 5;
const connectionsPerRun = 2000;
const bulkMegabytes = 300;
const loadScript = fileURLToPath(new URL('support/tcp-load.py', import.meta.url));
const subnet = parseCidr('10.0.0.0/8')?.cidr;

const groupId = (i: number) => `sg-${(i + 1).toString(16).padStart(17, '0')}`;
const eniId = (i: number) => `eni-${(i + 1).toString(16).padStart(17, '0')}`;
/** ENI addresses from 10.0.0.16 up (10.0.0.1 is the subnet gateway, the router's). */
const addressOf = (i: number): IpAddress => {
  const n = i + 16;
  const parsed = parseIpAddress(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`);
  if (!parsed) throw new Error(String(i));
  return parsed;
};

function makeGroups(random: SeededRandom): SecurityGroup[] {
  const perGroup = Math.floor(ruleCount / groupCount);
  return Array.from({ length: groupCount }, (_, g) => {
    const id = groupId(g);
    const rules: SecurityGroupRule[] = [];
    for (let r = 0; r < perGroup; r++) {
      const spec: RuleSpec =
        r % 4 === 0
          ? {
              protocol: 'tcp',
              fromPort: 1000 + r,
              toPort: 1000 + r,
              referencedGroupId: groupId(random.int(groupCount)),
            }
          : {
              protocol: random.pick(['tcp', 'udp']),
              fromPort: 2000 + r * 10,
              toPort: 2000 + r * 10 + random.int(5),
              cidrIpv4: `10.${random.int(200)}.${random.int(256)}.0/24`,
            };
      rules.push(normalizeRule(id, 'ingress', spec));
    }
    return { groupId: id, groupName: id, rules: [...rules, ...newGroupRules(id)] };
  });
}

interface Rig {
  readonly router: VpcRouter;
  readonly client: string;
  readonly server: string;
  readonly serverAddress: string;
  readonly serve: ChildProcess;
}

async function startRig(
  prefix: string,
  groups: SecurityGroup[],
  random: SeededRandom,
): Promise<Rig> {
  if (!subnet) throw new Error('subnet');
  const router = await VpcRouter.open({ prefix, namespace: `${prefix}r` });
  const allowGroup = groupId(0);
  const measured = groups[0];
  if (!measured) throw new Error('no groups');
  // The server's group admits the benchmark port from the client's group (a reference rule).
  router.setGroups([
    {
      ...measured,
      rules: [
        ...measured.rules,
        normalizeRule(allowGroup, 'ingress', {
          protocol: 'tcp',
          fromPort: 7000,
          toPort: 7000,
          referencedGroupId: groupId(1),
        }),
      ],
    },
    ...groups.slice(1),
  ]);
  for (let i = 2; i < interfaceCount; i++) {
    router.adoptInterface({
      networkInterfaceId: eniId(i),
      hostNamespace: `${prefix}none`,
      hostInterface: 'eth0',
      addresses: [addressOf(i)],
      subnet,
      groupIds: Array.from({ length: 1 + random.int(3) }, () => groupId(random.int(groupCount))),
    });
  }
  const client = `${prefix}c`;
  const server = `${prefix}s`;
  await addNamespace(client);
  await addNamespace(server);
  await router.attachInterface({
    networkInterfaceId: eniId(0),
    hostNamespace: server,
    hostInterface: 'eth0',
    addresses: [addressOf(0)],
    subnet,
    groupIds: [allowGroup],
  });
  await router.attachInterface({
    networkInterfaceId: eniId(1),
    hostNamespace: client,
    hostInterface: 'eth0',
    addresses: [addressOf(1)],
    subnet,
    groupIds: [groupId(1), groupId(2)],
  });
  const serve = spawn('ip', ['netns', 'exec', server, 'python3', loadScript, 'serve', '7000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve) => createInterface({ input: serve.stdout }).once('line', resolve));
  return { router, client, server, serverAddress: addressOf(0).text, serve };
}

async function load(rig: Rig, mode: 'connect' | 'bulk', amount: number): Promise<number> {
  const { stdout } = await runCommand(
    [
      'ip',
      'netns',
      'exec',
      rig.client,
      'python3',
      loadScript,
      mode,
      rig.serverAddress,
      '7000',
      String(amount),
    ],
    { timeoutMs: 300_000 },
  );
  return Number(stdout.trim());
}

/** Replaces the router's forward gate for a baseline; returns the script that restores ours. */
async function swapBaseline(rig: Rig, rules: string[]): Promise<void> {
  const table = 'sgbase';
  await applyNftScript(
    rig.router.namespace,
    `add table inet ${table}\ndelete table inet ${table}\n`,
  );
  await applyNftScript(
    rig.router.namespace,
    [
      `add table inet ${table}`,
      `add chain inet ${table} gate { type filter hook forward priority filter - 1; policy accept; }`,
      ...rules.map((rule) => `add rule inet ${table} gate ${rule}`),
    ].join('\n'),
  );
}

async function dropBaseline(rig: Rig): Promise<void> {
  await applyNftScript(rig.router.namespace, 'add table inet sgbase\ndelete table inet sgbase\n');
}

/** Runs `measure` under each configuration, interleaved, `runs` times; returns medians. */
async function interleaved(
  rig: Rig,
  naiveRules: string[],
  measure: () => Promise<number>,
): Promise<Record<'sgpods' | 'conntrack' | 'naive', number>> {
  const samples = { sgpods: [] as number[], conntrack: [] as number[], naive: [] as number[] };
  const ours = await rig.router.pendingPlan();
  if (ours !== '') throw new Error('router not in sync before measuring');
  for (let run = 0; run < runs; run++) {
    samples.sgpods.push(await measure());
    // conntrack only: our table removed, a base chain that only tracks and accepts.
    await applyNftScript(rig.router.namespace, `delete table inet ${routerTable}\n`);
    await swapBaseline(rig, ['ct state established,related accept', 'accept']);
    samples.conntrack.push(await measure());
    await swapBaseline(rig, ['ct state established,related accept', ...naiveRules, 'drop']);
    samples.naive.push(await measure());
    await dropBaseline(rig);
    await rig.router.resync();
  }
  const median = (values: number[]) =>
    percentile(
      [...values].sort((a, b) => a - b),
      50,
    );
  return {
    sgpods: median(samples.sgpods),
    conntrack: median(samples.conntrack),
    naive: median(samples.naive),
  };
}

/** One nft line per security-group rule, the flow under test matching the last line. */
function naiveChain(groups: SecurityGroup[], rig: Rig): string[] {
  const lines: string[] = [];
  for (const group of groups) {
    for (const rule of group.rules) {
      if (rule.direction !== 'ingress' || rule.ports.kind !== 'range') continue;
      const peer = rule.peer.kind === 'cidr' ? `ip saddr ${rule.peer.cidr.text} ` : '';
      lines.push(
        `${peer}meta l4proto ${rule.protocol} th dport ${rule.ports.from}-${rule.ports.to} accept`,
      );
    }
  }
  lines.push(`ip daddr ${rig.serverAddress} tcp dport 7000 accept`);
  return lines;
}

async function changeLatencies(
  rig: Rig,
  groups: SecurityGroup[],
): Promise<{ rule: number[]; membership: number[] }> {
  const rule: number[] = [];
  const membership: number[] = [];
  const target = groups[10];
  if (!target) throw new Error('groups');
  for (let i = 0; i < 60; i++) {
    const added = normalizeRule(target.groupId, 'ingress', {
      protocol: 'tcp',
      fromPort: 30000 + i,
      toPort: 30000 + i,
      cidrIpv4: `172.16.${i}.0/24`,
    });
    let start = performance.now();
    rig.router.putGroup({ ...target, rules: [...target.rules, added] });
    await rig.router.flush();
    rule.push(performance.now() - start);
    start = performance.now();
    rig.router.setInterfaceGroups(eniId(100 + i), [groupId(i), groupId(i + 1)]);
    await rig.router.flush();
    membership.push(performance.now() - start);
  }
  return { rule: rule.sort((a, b) => a - b), membership: membership.sort((a, b) => a - b) };
}

async function resyncFromEmpty(rig: Rig): Promise<number> {
  await applyNftScript(rig.router.namespace, `delete table inet ${routerTable}\n`);
  const start = performance.now();
  await rig.router.resync();
  const elapsed = performance.now() - start;
  if ((await rig.router.pendingPlan()) !== '') throw new Error('resync left differences');
  return elapsed;
}

export const dataplaneBenchmark: Benchmark = {
  name: 'dataplane',
  async run() {
    if (process.getuid?.() !== 0)
      throw new Error('the dataplane benchmark needs root (network namespaces, nftables)');
    const prefix = kernelPrefix(`/tmp/sgpods-bench-${process.pid}`);
    const random = new SeededRandom(7);
    const groups = makeGroups(random);
    let rig: Rig | undefined;
    try {
      const setupStart = performance.now();
      rig = await startRig(prefix, groups, random);
      const setupMs = performance.now() - setupStart;
      const naive = naiveChain(groups, rig);
      const connect = await interleaved(rig, naive, () =>
        load(rig as Rig, 'connect', connectionsPerRun),
      );
      const bulk = await interleaved(rig, naive, () => load(rig as Rig, 'bulk', bulkMegabytes));
      const changes = await changeLatencies(rig, groups);
      const resyncMs = await resyncFromEmpty(rig);
      return {
        dataplane_rules_count: ruleCount,
        dataplane_interfaces_count: interfaceCount,
        dataplane_first_apply_ms: setupMs,
        dataplane_new_flows_per_s: connect.sgpods,
        baseline_conntrack_only_new_flows_per_s: connect.conntrack,
        baseline_naive_chain_new_flows_per_s: connect.naive,
        dataplane_new_flow_ratio_vs_conntrack: connect.sgpods / connect.conntrack,
        dataplane_bulk_mb_per_s: bulk.sgpods,
        baseline_conntrack_only_bulk_mb_per_s: bulk.conntrack,
        dataplane_bulk_ratio_vs_conntrack: bulk.sgpods / bulk.conntrack,
        dataplane_rule_change_p50_ms: percentile(changes.rule, 50),
        dataplane_rule_change_p99_ms: percentile(changes.rule, 99),
        dataplane_membership_change_p50_ms: percentile(changes.membership, 50),
        dataplane_membership_change_p99_ms: percentile(changes.membership, 99),
        dataplane_full_resync_ms: resyncMs,
      };
    } finally {
      rig?.serve.kill('SIGKILL');
      await rig?.router.close();
      for (const suffix of ['r', 'c', 's']) await deleteNamespace(`${prefix}${suffix}`);
    }
  },
};
