/**
 * Branch ENIs on the sandbox (root; the built CLI, `npm run build` first). Each run on a fresh
 * home: `sgpods up`, a managed node group of 5 × m5.24xlarge (107 branch ENIs each) with
 * `ENABLE_POD_ENI=true` on aws-node (which asks for the trunks), a 30 s cool-down, a security group, a
 * SecurityGroupPolicy, and a 200-replica Deployment whose pods match it; then `down --purge`.
 *
 * Five nodes, not two, because the sandbox's agent hands out the primary ENI's 49 addresses only:
 * on two nodes ~100 pods stay ContainerCreating and the kubelets' CNI retries (a Node.js process
 * each) saturate a 2-core machine, starving the API server and the controller (its lease
 * renewals time out and leadership flaps). A fresh home per run rather than deleting the
 * Deployment and waiting out the cool-down (deleting 200 pods at once leaves a few Terminating
 * for good: the kubelet's final DELETE meets `read ECONNRESET` and is not retried), or more node
 * groups in one home (past ~12 nodes the kubelets' shared API client, 32 sockets, is all taken by
 * their watches and new nodes never become Ready).
 *
 * One watch on the namespace's pods sees each pod first bound (`spec.nodeName`) and first
 * annotated (`vpc.amazonaws.com/pod-eni`), so the watch's own latency cancels: bound → annotated
 * p50/p99/max, and the Deployment's create until all 200 are annotated. EC2 calls per pod come
 * from the controller's `ec2_api_req_count`, read every 2 s on each replica's metrics port inside
 * its pod's network namespace (a replica that exits still counts up to its last read); leader
 * changes during the rollout from the Lease's `leaseTransitions`.
 *
 * Three runs, side by side: the controller as deployed (upstream's EC2 token bucket, 12 calls/s
 * with a burst of 18: 200 pods × 3 calls take ~50 s by design); with that bucket raised to
 * 1,000/s (`--user-client-qps`/`--user-client-burst` added to the controller's Deployment, then a
 * new leader); and with its Kubernetes API bucket (`--apiserver-qps`/`--apiserver-burst`, 20/30,
 * which every API call of the controller waits on, lease renewals included) raised to 1,000/s as
 * well. Before each rollout the leader has every trunk ready and its EC2 calls are quiet.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { kernelPrefix } from '../src/core/kernel-names.js';
import { percentile } from './random.js';
import type { Benchmark } from './run.js';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const cluster = 'eksworkshop-eksctl';
const replicas = 200;
const nodes = 5;
const podEni = 'vpc.amazonaws.com/pod-eni';

interface Run {
  /** The metric names' suffix. */
  readonly name: string;
  /** Added to the controller's arguments before the rollout. */
  readonly flags: readonly string[];
}

const raisedEc2 = ['--user-client-qps=1000', '--user-client-burst=1000'];
const runs: readonly Run[] = [
  { name: 'upstream_qps', flags: [] },
  { name: 'raised_qps', flags: raisedEc2 },
  {
    name: 'raised_qps_and_api_qps',
    flags: [...raisedEc2, '--apiserver-qps=1000', '--apiserver-burst=1000'],
  },
];

const namespace = 'branch-enis';

const nodeGroup = `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: ${cluster}, region: us-west-2}
managedNodeGroups:
  - name: sgp
    desiredCapacity: ${String(nodes)}
    instanceType: m5.24xlarge
    labels: {pool: sgp}
`;

const podSpec = (indent: string) =>
  [
    'nodeSelector: {pool: sgp}',
    'terminationGracePeriodSeconds: 1',
    "containers: [{name: app, image: busybox, command: [sleep, '3600']}]",
  ]
    .map((line) => `${indent}${line}\n`)
    .join('');

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: rollout, namespace: ${namespace}}
spec:
  replicas: ${String(replicas)}
  selector: {matchLabels: {app: bench}}
  template:
    metadata: {labels: {app: bench}}
    spec:
${podSpec('      ')}`;

const probe = `apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: ${namespace}, labels: {app: bench}}
spec:
${podSpec('  ')}`;

const policyOf = (group: string) => `apiVersion: vpcresources.k8s.aws/v1beta1
kind: SecurityGroupPolicy
metadata: {name: bench, namespace: ${namespace}}
spec:
  podSelector: {matchLabels: {app: bench}}
  securityGroups: {groupIds: [${group}]}
`;

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A command, asynchronously (the watch keeps running meanwhile). */
function command(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 300_000,
): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : -1) : 0,
          stdout,
          stderr,
        });
      },
    );
  });
}

async function ok(file: string, args: readonly string[], env?: NodeJS.ProcessEnv) {
  const result = await command(file, args, env);
  if (result.code !== 0)
    throw new Error(`${file} ${args.join(' ')} failed (${String(result.code)}): ${result.stderr}`);
  return result.stdout.trim();
}

/** Polls `check` (a failing check counts as not yet: the sandbox is busy) until it holds. */
async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let failure: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      failure = error;
    }
    if (performance.now() > deadline)
      throw new Error(
        `benchmark: ${what} not reached in time${failure ? ` (last error: ${String(failure)})` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class BenchHome {
  readonly #awsEnv: NodeJS.ProcessEnv = {};

  constructor(readonly home: string) {}

  get kubeEnv(): NodeJS.ProcessEnv {
    return {
      KUBECONFIG: join(this.home, 'kubeconfig'),
      KUBECACHEDIR: join(this.home, 'kubectl-cache'),
    };
  }

  sgpods(args: readonly string[]) {
    return ok(process.execPath, [cli, '--home', this.home, ...args], { NODE_NO_WARNINGS: '1' });
  }

  kubectl(...args: string[]) {
    return ok('kubectl', args, this.kubeEnv);
  }

  async aws<T>(...args: string[]): Promise<T> {
    if (Object.keys(this.#awsEnv).length === 0) {
      for (const line of readFileSync(join(this.home, 'aws-env'), 'utf8').split('\n')) {
        const match = /^export ([A-Z_0-9]+)='(.*)'$/.exec(line);
        if (match?.[1]) this.#awsEnv[match[1]] = match[2] ?? '';
      }
    }
    return JSON.parse((await ok('aws', [...args, '--output', 'json'], this.#awsEnv)) || '{}') as T;
  }

  apply(name: string, yaml: string) {
    const file = join(this.home, name);
    writeFileSync(file, yaml);
    return this.kubectl('apply', '-f', file);
  }

  async branchEnis(): Promise<number> {
    const answer = await this.aws<{ NetworkInterfaces: unknown[] }>(
      'ec2',
      'describe-network-interfaces',
      '--filters',
      'Name=description,Values=aws-k8s-branch-eni',
    );
    return answer.NetworkInterfaces.length;
  }

  /** Server-side dry runs of a matching pod carry the pod-eni request three times in a row. */
  async webhooksKnowPolicy(): Promise<void> {
    const file = join(this.home, 'probe.yaml');
    writeFileSync(file, probe);
    let streak = 0;
    await until(
      async () => {
        const result = await command(
          'kubectl',
          ['apply', '--dry-run=server', '-o', 'json', '-f', file],
          this.kubeEnv,
        );
        streak = result.stdout.includes(podEni) ? streak + 1 : 0;
        return streak >= 3;
      },
      60_000,
      'the webhooks to know the policy',
      200,
    );
  }
}

/** `<metric>/<api>` → value, per controller process (`<netns>/<pid>`). */
type Scrape = Map<string, Map<string, number>>;

/**
 * The EC2 counters of every controller process of this home: each runs in its pod's network
 * namespace (named with the home's kernel prefix), its metrics on 127.0.0.1:8443 there.
 */
async function scrapeControllers(home: string): Promise<Scrape> {
  const prefix = kernelPrefix(home);
  const pids = (await command('pgrep', ['-f', 'main.js controller'])).stdout.split('\n');
  const processes = new Map<string, string>(); // netns → the node process (not tini)
  for (const pid of pids.filter(Boolean)) {
    let argv0 = '';
    try {
      argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    } catch {
      continue; // gone
    }
    if (argv0 !== 'node' && !argv0.endsWith('/node')) continue;
    const netns = (await command('ip', ['netns', 'identify', pid])).stdout.trim();
    if (netns.startsWith(prefix)) processes.set(netns, pid);
  }
  const scrape: Scrape = new Map();
  for (const [netns, pid] of processes) {
    const result = await command('ip', [
      'netns',
      'exec',
      netns,
      'curl',
      '-sf',
      '-m',
      '5',
      'http://127.0.0.1:8443/metrics',
    ]);
    if (result.code !== 0) continue; // starting or stopping
    const values = new Map<string, number>();
    for (const line of result.stdout.split('\n')) {
      const match =
        /^(ec2_api_req_count|aws_nw_call_latency_sum|aws_nw_call_latency_count)\{api="(\w+)"\} (\S+)$/.exec(
          line,
        );
      if (match) values.set(`${match[1] ?? ''}/${match[2] ?? ''}`, Number(match[3]));
    }
    scrape.set(`${netns}/${pid}`, values);
  }
  return scrape;
}

const total = (counts: ReadonlyMap<string, number>, metric: string) =>
  [...counts].filter(([key]) => key.startsWith(`${metric}/`)).reduce((a, [, v]) => a + v, 0);

/** Every process's EC2 calls so far, summed (for quiet checks: a restart shows as a change). */
const callsOf = (scrape: Scrape) =>
  [...scrape]
    .map(([key, values]) => `${key}=${String(total(values, 'ec2_api_req_count'))}`)
    .sort()
    .join(' ');

/**
 * The controllers' EC2 counters over a window, scraped every 2 s so that a replica that exits
 * (a lost lease) still counts up to its last scrape, and one that starts counts from zero.
 */
class Ec2CallCounter {
  readonly #baseline: Scrape;
  readonly #latest: Scrape;
  readonly #stopped: Promise<void>;
  #running = true;

  private constructor(
    private readonly home: string,
    baseline: Scrape,
  ) {
    this.#baseline = baseline;
    this.#latest = new Map(baseline);
    this.#stopped = this.#loop();
  }

  static async start(home: string): Promise<Ec2CallCounter> {
    return new Ec2CallCounter(home, await scrapeControllers(home));
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      await sleep(2000);
      for (const [key, values] of await scrapeControllers(this.home)) this.#latest.set(key, values);
    }
  }

  /** What every process counted in the window, summed per `<metric>/<api>`; processes seen. */
  async stop(): Promise<{ counts: Map<string, number>; processes: number }> {
    this.#running = false;
    await this.#stopped;
    for (const [key, values] of await scrapeControllers(this.home)) this.#latest.set(key, values);
    const counts = new Map<string, number>();
    for (const [key, values] of this.#latest)
      for (const [name, value] of values)
        counts.set(
          name,
          (counts.get(name) ?? 0) + value - (this.#baseline.get(key)?.get(name) ?? 0),
        );
    return { counts, processes: this.#latest.size };
  }
}

interface PodJson {
  metadata?: { uid?: string; resourceVersion?: string; annotations?: Record<string, string> };
  spec?: { nodeName?: string };
}

/**
 * One watch on a namespace's pods recording when each pod is first seen bound and first seen
 * annotated; resumed from the last resourceVersion if the server closes it.
 */
function watchPods(config: KubeConfig, namespace: string) {
  const bound = new Map<string, number>();
  const annotated = new Map<string, number>();
  let stopped = false;
  let restarts = 0;
  let resourceVersion: string | undefined;
  let controller: AbortController | undefined;
  const onEvent = (_phase: string, pod: PodJson) => {
    const now = performance.now();
    const uid = pod.metadata?.uid ?? '';
    resourceVersion = pod.metadata?.resourceVersion ?? resourceVersion;
    if (pod.spec?.nodeName && !bound.has(uid)) bound.set(uid, now);
    if (pod.metadata?.annotations?.[podEni] && !annotated.has(uid)) {
      annotated.set(uid, now);
      if (!bound.has(uid)) bound.set(uid, now);
    }
  };
  const start = async (): Promise<void> => {
    controller = await new Watch(config).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      resourceVersion ? { resourceVersion } : {},
      onEvent,
      () => {
        if (stopped) return;
        restarts += 1;
        setTimeout(() => void start(), 100);
      },
    );
    if (stopped) controller.abort();
  };
  return {
    bound,
    annotated,
    restarts: () => restarts,
    start,
    stop: () => {
      stopped = true;
      controller?.abort();
    },
  };
}

/** Leader changes so far (the Lease's `leaseTransitions`). */
async function leaseTransitions(bench: BenchHome): Promise<number> {
  return Number(
    await bench.kubectl(
      '-n',
      'kube-system',
      'get',
      'lease',
      'cp-vpc-resource-controller',
      '-o',
      'jsonpath={.spec.leaseTransitions}',
    ),
  );
}

/** The controllers' logged warnings and errors since a time (their logs' ISO `time`): message → count. */
async function controllerWarnings(bench: BenchHome, since: string): Promise<Map<string, number>> {
  const logs = await command(
    'kubectl',
    ['-n', 'kube-system', 'logs', '-l', 'app=vpc-resource-controller', '--tail=-1'],
    bench.kubeEnv,
  );
  const counts = new Map<string, number>();
  for (const line of logs.stdout.split('\n')) {
    let entry: { level?: number; time?: string; msg?: string; err?: { message?: string } };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if ((entry.level ?? 0) < 40 || (entry.time ?? '') < since) continue; // ISO times sort
    const message = `controller log: ${entry.msg ?? ''}${entry.err?.message ? `: ${entry.err.message.slice(0, 160)}` : ''}`;
    counts.set(message, (counts.get(message) ?? 0) + 1);
  }
  return counts;
}

/** Warning events on the given pods: reason → count. */
async function warningEvents(
  bench: BenchHome,
  namespace: string,
  uids: ReadonlyMap<string, number>,
): Promise<Map<string, number>> {
  const lines = await bench.kubectl(
    '-n',
    namespace,
    'get',
    'events',
    '--field-selector',
    'type=Warning',
    '-o',
    'jsonpath={range .items[*]}{.involvedObject.uid} {.reason}{"\\n"}{end}',
  );
  const counts = new Map<string, number>();
  for (const [uid = '', reason = ''] of lines.split('\n').map((line) => line.split(' ')))
    if (uids.has(uid)) {
      const key = `Warning event ${reason}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  return counts;
}

/** The leader's pod (the Lease's holder identity is `<pod>_<uuid>`). */
async function leaderPod(bench: BenchHome): Promise<string> {
  const holder = await bench.kubectl(
    '-n',
    'kube-system',
    'get',
    'lease',
    'cp-vpc-resource-controller',
    '-o',
    'jsonpath={.spec.holderIdentity}',
  );
  return holder.split('_')[0] ?? '';
}

/** Adds flags to the controller's Deployment; waits until a replica with them leads. */
async function restartController(bench: BenchHome, flags: readonly string[]): Promise<void> {
  const patch = flags.map((value) => ({
    op: 'add',
    path: '/spec/template/spec/containers/0/args/-',
    value,
  }));
  await bench.kubectl(
    '-n',
    'kube-system',
    'patch',
    'deployment',
    'vpc-resource-controller',
    '--type=json',
    '-p',
    JSON.stringify(patch),
  );
  await bench.kubectl(
    '-n',
    'kube-system',
    'rollout',
    'status',
    'deployment/vpc-resource-controller',
    '--timeout=120s',
  );
  const pods = JSON.parse(
    await bench.kubectl(
      '-n',
      'kube-system',
      'get',
      'pods',
      '-l',
      'app=vpc-resource-controller',
      '-o',
      'json',
    ),
  ) as {
    items: {
      metadata: { name: string; deletionTimestamp?: string };
      spec: { containers: { args?: string[] }[] };
    }[];
  };
  const restarted = pods.items
    .filter(
      (pod) =>
        !pod.metadata.deletionTimestamp &&
        flags.every((flag) => pod.spec.containers[0]?.args?.includes(flag)),
    )
    .map((pod) => pod.metadata.name);
  await until(
    async () => restarted.includes(await leaderPod(bench)),
    120_000,
    'a restarted replica to lead',
    500,
  );
}

/** The leader has the run's trunks ready and has made no EC2 call for 3 s. */
async function controllerSettled(bench: BenchHome, nodeNames: readonly string[]): Promise<void> {
  await until(
    async () => {
      const logs = await bench.kubectl('-n', 'kube-system', 'logs', await leaderPod(bench));
      return nodeNames.every((node) =>
        logs.split('\n').some((line) => line.includes('"trunk ready"') && line.includes(node)),
      );
    },
    120_000,
    "the leader's trunks",
    500,
  );
  let before = '';
  await until(
    async () => {
      const now = callsOf(await scrapeControllers(bench.home));
      const quiet = now === before;
      before = now;
      return quiet;
    },
    120_000,
    "the leader's EC2 calls to be quiet",
    3000,
  );
}

const ms = (value: number) => Number(value.toFixed(1));

/** The run's Deployment rolled out until every pod is annotated; the EC2 calls it took. */
async function rollout(bench: BenchHome, run: Run): Promise<Record<string, number>> {
  const transitions = await leaseTransitions(bench);
  const since = new Date().toISOString();
  const counter = await Ec2CallCounter.start(bench.home);
  const config = new KubeConfig();
  config.loadFromFile(join(bench.home, 'kubeconfig'));
  const watch = watchPods(config, namespace);
  await watch.start();
  let started = 0;
  try {
    started = performance.now();
    await bench.apply('rollout.yaml', deployment);
    await until(() => watch.annotated.size >= replicas, 240_000, `${run.name}: all pods annotated`);
  } finally {
    watch.stop();
  }
  const { counts, processes } = await counter.stop();
  const allBound = Math.max(...watch.bound.values());
  const allAnnotated = Math.max(...watch.annotated.values());
  const latencies = [...watch.annotated]
    .map(([uid, at]) => at - (watch.bound.get(uid) ?? at))
    .sort((a, b) => a - b); // percentile() reads a sorted list
  const calls = total(counts, 'ec2_api_req_count');
  const latencySum = total(counts, 'aws_nw_call_latency_sum');
  const latencyCount = total(counts, 'aws_nw_call_latency_count');
  const leaderChanges = (await leaseTransitions(bench)) - transitions;
  const perApi = [...counts]
    .filter(([key, value]) => key.startsWith('ec2_api_req_count/') && value > 0)
    .map(([key, value]) => `${key.split('/')[1] ?? ''} ${String(value)}`)
    .join(', ');
  const say = (text: string) => process.stderr.write(`branch-enis (${run.name}): ${text}\n`);
  say(
    `all bound after ${((allBound - started) / 1000).toFixed(1)} s; EC2 calls ${perApi}; ` +
      `${String(processes)} controller process(es) seen; watch restarts ${String(watch.restarts())}`,
  );
  const warnings = [
    ...(await controllerWarnings(bench, since)),
    ...(await warningEvents(bench, namespace, watch.annotated)),
  ];
  for (const [message, count] of warnings) say(`${String(count)} × ${message}`);
  if (leaderChanges > 0)
    say(`WARNING ${String(leaderChanges)} leader change(s) during the rollout`);
  return {
    [`branch_eni_bound_to_annotated_p50_ms_${run.name}`]: ms(percentile(latencies, 50)),
    [`branch_eni_bound_to_annotated_p99_ms_${run.name}`]: ms(percentile(latencies, 99)),
    [`branch_eni_bound_to_annotated_max_ms_${run.name}`]: ms(latencies.at(-1) ?? Number.NaN),
    [`branch_eni_rollout_200_all_annotated_s_${run.name}`]: Number(
      ((allAnnotated - started) / 1000).toFixed(2),
    ),
    [`branch_eni_ec2_calls_per_pod_${run.name}`]: Number((calls / replicas).toFixed(2)),
    [`branch_eni_ec2_call_mean_ms_${run.name}`]: ms(
      (latencySum / Math.max(1, latencyCount)) * 1000,
    ),
    [`branch_eni_leader_changes_${run.name}`]: leaderChanges,
  };
}

/** One run on a fresh home, torn down (`down --purge`) even on failure. */
async function runOnFreshHome(run: Run): Promise<Record<string, number>> {
  const home = mkdtempSync(join(tmpdir(), 'sgpods-bench-'));
  const bench = new BenchHome(home);
  try {
    await bench.sgpods(['up']);
    writeFileSync(join(home, 'nodegroup.yaml'), nodeGroup);
    await bench.sgpods(['nodegroup', 'create', '-f', join(home, 'nodegroup.yaml')]);
    await bench.kubectl(
      '-n',
      'kube-system',
      'create',
      'configmap',
      'amazon-vpc-cni',
      '--from-literal=branch-eni-cooldown=30',
    );
    const sgpNodes = (await bench.kubectl('get', 'nodes', '-l', 'pool=sgp', '-o', 'name'))
      .split('\n')
      .filter(Boolean);
    // aws-node asks for the trunks (CNINode feature, then the label), as the workshop turns it on.
    await bench.kubectl(
      '-n',
      'kube-system',
      'set',
      'env',
      'daemonset',
      'aws-node',
      'ENABLE_POD_ENI=true',
    );
    await bench.kubectl(
      '-n',
      'kube-system',
      'rollout',
      'status',
      'daemonset/aws-node',
      '--timeout=180s',
    );
    const vpcId =
      (await bench.aws<{ Vpcs: { VpcId: string }[] }>('ec2', 'describe-vpcs')).Vpcs[0]?.VpcId ?? '';
    const { GroupId: group } = await bench.aws<{ GroupId: string }>(
      'ec2',
      'create-security-group',
      '--group-name',
      'POD_SG',
      '--description',
      'bench pods',
      '--vpc-id',
      vpcId,
    );
    await bench.kubectl('create', 'namespace', namespace);
    await bench.apply('policy.yaml', policyOf(group));
    await until(
      async () => {
        const capacities = (
          await bench.kubectl(
            'get',
            'nodes',
            '-l',
            'pool=sgp',
            '-o',
            'jsonpath={.items[*].status.allocatable.vpc\\.amazonaws\\.com/pod-eni}',
          )
        ).split(' ');
        return capacities.length === nodes && capacities.every((capacity) => capacity === '107');
      },
      120_000,
      'the m5.24xlarge nodes to advertise 107 pod-eni',
      500,
    );
    if (run.flags.length > 0) await restartController(bench, run.flags);
    await controllerSettled(
      bench,
      sgpNodes.map((node) => node.replace('node/', '')),
    );
    await bench.webhooksKnowPolicy();
    const results = await rollout(bench, run);
    const enis = await bench.branchEnis();
    if (enis !== replicas)
      process.stderr.write(
        `branch-enis (${run.name}): WARNING ${String(enis)} branch ENIs in EC2 right after the rollout for ${String(replicas)} annotated pods (those a replaced leader left wait for the cool-down)\n`,
      );
    return results;
  } finally {
    await bench.sgpods(['down', '--purge']).catch((error: unknown) => {
      process.stderr.write(`branch-enis: down --purge failed: ${String(error)}\n`);
    });
    rmSync(home, { recursive: true, force: true });
  }
}

export const branchEnisBenchmark: Benchmark = {
  name: 'branch-enis',
  async run() {
    const results: Record<string, number> = {};
    for (const run of runs) Object.assign(results, await runOnFreshHome(run));
    return results;
  },
};
