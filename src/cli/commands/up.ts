/**
 * `sgpods up [--home DIR] [-f cluster.yaml]`: the sandbox in one home — the cloud (EC2, RDS, EKS
 * and IAM endpoints over a VPC with real packets), then the cluster whose nodes are the cloud's
 * instances — both in the background; the node groups of the eksctl ClusterConfig (default:
 * the workshop's base cluster) launched as EC2 instances; returns once the nodes are Ready and
 * the add-ons (aws-node, cluster DNS) run, and the dashboard serves on loopback. A second `up`
 * starts only what does not run.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readClusterConfig } from '../../adapters/eks/cluster-config-file.js';
import { awsEnvPath, readAwsEnvVariables } from '../../adapters/aws/home-aws.js';
import type { KubeHttpClient } from '../../adapters/kube/kube-http-client.js';
import { workshopClusterConfig, type ClusterConfig } from '../../core/eks/cluster-config.js';
import { InputError } from '../../core/errors.js';
import { readPidFile, runDirectory } from '../../adapters/process/pid-file.js';
import { scaleNodeGroup } from '../../servers/kube/runtime/sandbox/node-groups.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { dashboardUrlOf, dashboardUrlPathOf } from './dashboard.js';
import { runDown } from './down.js';
import {
  isComponentRunning,
  startInBackground,
  waitUntilReady,
} from '../sandbox/background-process.js';
import {
  apiServerAnswers,
  kubeClientOf,
  kubeconfigPathOf,
  openCloudSession,
  waitForNodeGroups,
  type CloudSession,
} from '../sandbox/sandbox-session.js';

export interface UpOptions {
  readonly home: string;
  readonly file?: string;
  /** How long to wait for each step. */
  readonly timeoutMs?: number;
}

type Json = Record<string, unknown>;

export function clusterConfigPathOf(home: string): string {
  return join(home, 'cluster.json');
}

/** The home's cluster: the file given, else what an earlier `up` kept, else the workshop's. */
function chosenConfig(home: string, file: string | undefined): ClusterConfig {
  const savedPath = clusterConfigPathOf(home);
  const saved = existsSync(savedPath)
    ? (JSON.parse(readFileSync(savedPath, 'utf8')) as ClusterConfig)
    : undefined;
  const config = file ? readClusterConfig(file) : (saved ?? workshopClusterConfig);
  if (saved && (saved.name !== config.name || saved.region !== config.region)) {
    throw new InputError(
      `this home runs cluster "${saved.name}" in ${saved.region}, not "${config.name}" in ${config.region} (use another --home, or sgpods down --purge first)`,
    );
  }
  return config;
}

function step(message: string): () => void {
  const started = Date.now();
  process.stdout.write(`up: ${message} …`);
  return () => {
    process.stdout.write(` done (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  };
}

function runningPid(home: string, name: string): string {
  return String(readPidFile(join(runDirectory(home), `${name}.pid`))?.pid ?? '?');
}

/** Starts the cloud unless it runs. */
async function ensureCloud(home: string, config: ClusterConfig, timeoutMs: number): Promise<void> {
  if (isComponentRunning(home, 'cloud') && existsSync(awsEnvPath(home))) {
    process.stdout.write(`up: the cloud runs (pid ${runningPid(home, 'cloud')})\n`);
    return;
  }
  const done = step('starting the cloud (VPC, EC2, RDS, EKS, IAM)');
  const started = Date.now();
  const cloud = startInBackground(home, 'cloud', [
    'cloud',
    '--cluster-name',
    config.name,
    '--region',
    config.region,
  ]);
  await waitUntilReady(
    home,
    cloud,
    () =>
      isComponentRunning(home, 'cloud') &&
      existsSync(awsEnvPath(home)) &&
      // aws-env is rewritten at every start: this start's, not a previous one's.
      statSync(awsEnvPath(home)).mtimeMs >= started - 1000,
    timeoutMs,
  );
  done();
}

/** Starts the cluster unless it runs and answers. */
async function ensureCluster(home: string, timeoutMs: number): Promise<void> {
  if (isComponentRunning(home, 'kube') && (await apiServerAnswers(home))) {
    process.stdout.write(`up: the cluster runs (pid ${runningPid(home, 'kube')})\n`);
    return;
  }
  const done = step('starting the cluster (API server, controllers, scheduler, kubelets)');
  const kube = startInBackground(home, 'kube', ['kube', '--sandbox']);
  await waitUntilReady(
    home,
    kube,
    async () => isComponentRunning(home, 'kube') && (await apiServerAnswers(home)),
    timeoutMs,
  );
  done();
}

/** Starts the dashboard unless it runs; its URL. */
async function ensureDashboard(home: string, timeoutMs: number): Promise<string> {
  const running = dashboardUrlOf(home);
  if (isComponentRunning(home, 'dashboard') && running) {
    process.stdout.write(`up: the dashboard runs (pid ${runningPid(home, 'dashboard')})\n`);
    return running;
  }
  const done = step('starting the dashboard');
  rmSync(dashboardUrlPathOf(home), { force: true });
  const dashboard = startInBackground(home, 'dashboard', ['dashboard']);
  await waitUntilReady(
    home,
    dashboard,
    () => isComponentRunning(home, 'dashboard') && dashboardUrlOf(home) !== undefined,
    timeoutMs,
  );
  done();
  return dashboardUrlOf(home) ?? '?';
}

async function ensureNodeGroups(
  session: CloudSession,
  client: KubeHttpClient,
  config: ClusterConfig,
  timeoutMs: number,
): Promise<void> {
  const done = step(
    `node groups ${config.nodeGroups.map((group) => `${group.name} (${String(group.desiredCapacity)} × ${group.instanceType})`).join(', ')}`,
  );
  for (const group of config.nodeGroups) {
    await scaleNodeGroup(session.ec2, session.placement, group);
  }
  await waitForNodeGroups(
    client,
    new Map(config.nodeGroups.map((group) => [group.name, group.desiredCapacity])),
    timeoutMs,
  );
  done();
}

/** aws-node on every node and the cluster DNS available. */
async function waitForAddons(client: KubeHttpClient, timeoutMs: number): Promise<void> {
  const done = step('add-ons aws-node and coredns');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const awsNode = await client
      .get<Json>('/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node')
      .catch(() => undefined);
    const coredns = await client
      .get<Json>('/apis/apps/v1/namespaces/kube-system/deployments/coredns')
      .catch(() => undefined);
    const ds = (awsNode?.status ?? {}) as Json;
    const dns = (coredns?.status ?? {}) as Json;
    const desired = Number(ds.desiredNumberScheduled ?? 0);
    const ready = Number(ds.numberReady ?? 0);
    const available = Number(dns.availableReplicas ?? 0);
    if (desired > 0 && ready === desired && available >= 1) {
      done();
      return;
    }
    if (Date.now() > deadline)
      throw new Error(
        `add-ons not ready within ${String(timeoutMs / 1000)} s (aws-node ${String(ready)}/${String(desired)}, coredns ${String(available)} available)`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function ensureNodesAndAddons(
  home: string,
  config: ClusterConfig,
  timeoutMs: number,
): Promise<{ vpcId: string; endpoint: string }> {
  const session = await openCloudSession(home);
  const client = kubeClientOf(home);
  if (!session || !client) throw new Error('the sandbox started but its settings are missing');
  try {
    await ensureNodeGroups(session, client, config, timeoutMs);
    await waitForAddons(client, timeoutMs);
    return { vpcId: session.vpcId, endpoint: session.endpoint };
  } finally {
    session.close();
    client.close();
  }
}

export async function runUp(options: UpOptions): Promise<ExitCode> {
  const { home } = options;
  const timeoutMs = options.timeoutMs ?? 180_000;
  if (process.getuid?.() !== 0)
    throw new InputError(
      'sgpods up builds network namespaces and nftables rules, which needs root; run it as root',
    );
  const config = chosenConfig(home, options.file);
  mkdirSync(home, { recursive: true, mode: 0o755 });
  writeFileSync(clusterConfigPathOf(home), `${JSON.stringify(config, null, 2)}\n`);
  const started = Date.now();
  // Known before starting: a cloud that fails to become ready was still started by this call.
  const cloudRanBefore = isComponentRunning(home, 'cloud');
  let vpcId: string;
  let endpoint: string;
  let dashboardUrl: string;
  try {
    await ensureCloud(home, config, timeoutMs);
    await ensureCluster(home, timeoutMs);
    ({ vpcId, endpoint } = await ensureNodesAndAddons(home, config, timeoutMs));
    dashboardUrl = await ensureDashboard(home, timeoutMs);
  } catch (error) {
    // A sandbox this call started is not left half-started: its processes and kernel objects
    // go (its state stays for the next `up`); one that already ran is left to the user.
    if (!cloudRanBefore) {
      process.stdout.write('\nup: failed; stopping what this up started\n');
      await runDown({ home });
    }
    throw error;
  }
  process.stdout.write(
    [
      `up: cluster ${config.name} (${config.region}, VPC ${vpcId}) ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      `    kubectl:   export KUBECONFIG=${kubeconfigPathOf(home)}`,
      `    aws:       source ${awsEnvPath(home)}`,
      `    endpoint:  ${endpoint} (inside the VPC)`,
      `    dashboard: ${dashboardUrl} (the VPC, pods, groups and live flows; loopback only)`,
      `    shell:     sgpods --home ${home} shell (a workstation in the VPC, the workshop's Cloud9)`,
      `    metrics:   ${readAwsEnvVariables(home).AWS_ENDPOINT_URL ?? '?'}/metrics (cloud); inside the VPC, aws-node <node IP>:61678/metrics and the controller <pod IP>:8443/metrics`,
      `    status:    sgpods --home ${home} status; stop: sgpods --home ${home} down`,
      '',
    ].join('\n'),
  );
  return exitCodes.success;
}
