/**
 * `sgpods demo`: the EKS workshop's "security groups for pods" on the home's sandbox (started if
 * needed), with the real clients — the aws CLI and kubectl, each command printed before it runs:
 * an m5.large node group, POD_SG and RDS_SG with the workshop's rules, a PostgreSQL RDS instance
 * and its table, `ENABLE_POD_ENI=true` on aws-node, the SecurityGroupPolicy, the secret, and the
 * workshop's green and red Deployments unchanged. It prints both pods' log lines and a verdict
 * table, and exits 0 only when green printed the rows and red the timeout. Every step first
 * looks at what exists, so a second run reuses it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readAwsEnvVariables } from '../../adapters/aws/home-aws.js';
import type { ClusterConfig } from '../../core/eks/cluster-config.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { kubeconfigPathOf } from '../sandbox/sandbox-session.js';
import { runNodeGroupCreate } from './nodegroup.js';
import { clusterConfigPathOf, runUp } from './up.js';

const workshopFiles = fileURLToPath(new URL('../../../examples/workshop/', import.meta.url));
const namespace = 'sg-per-pod';
const rowsMark = 'Welcome to the eksworkshop';
const timeoutMark = 'Database connection failed due to timeout expired';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface DemoOptions {
  readonly home: string;
  /** Deadline of each wait (the node label, the DB, the pods' lines). */
  readonly timeoutMs?: number;
}

/** Runs the workshop's commands with the home's aws and kubectl settings, printing each. */
class Workstation {
  readonly #env: NodeJS.ProcessEnv;

  constructor(home: string) {
    this.#env = {
      ...process.env,
      KUBECONFIG: kubeconfigPathOf(home),
      KUBECACHEDIR: join(home, 'kubectl-cache'),
      ...readAwsEnvVariables(home),
    };
  }

  run(argv: readonly string[], options: { input?: string; quiet?: boolean } = {}): Promise<Run> {
    if (!options.quiet) {
      const what = options.input === undefined ? '' : `   # ${manifestName(options.input)}`;
      process.stdout.write(`  $ ${argv.map(quoted).join(' ')}${what}\n`);
    }
    const [command = '', ...args] = argv;
    return new Promise((resolve) => {
      const child = execFile(
        command,
        args,
        { env: this.#env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          resolve({
            code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
            stdout: stdout.trim(),
            stderr: stderr.trim(),
          });
        },
      );
      child.stdin?.end(options.input);
    });
  }

  /** A command that must succeed; its output. */
  async ok(argv: readonly string[], options: { input?: string; quiet?: boolean } = {}) {
    const result = await this.run(argv, options);
    if (result.code !== 0)
      throw new Error(`${argv.slice(0, 3).join(' ')} failed: ${result.stderr || result.stdout}`);
    return result.stdout;
  }
}

/** `Kind namespace/name` of a manifest given on stdin (YAML or JSON), for the narration. */
function manifestName(input: string): string {
  const field = (key: string) =>
    new RegExp(`"?${key}"?\\s*:\\s*"?([\\w.-]+)`).exec(input)?.[1] ?? '';
  const namespaced = field('namespace');
  return `${field('kind')} ${namespaced ? `${namespaced}/` : ''}${field('name')}`;
}

function quoted(word: string): string {
  return /^[\w@%+=:,./-]*$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

async function until(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function stepTitle(title: string): () => void {
  const started = Date.now();
  process.stdout.write(`demo: ${title}\n`);
  return () => {
    process.stdout.write(`      done (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  };
}

interface Groups {
  readonly vpcId: string;
  readonly podSg: string;
  readonly rdsSg: string;
  readonly nodeGroupSg: string;
}

async function groupIdByName(ws: Workstation, vpcId: string, name: string): Promise<string> {
  return ws.ok([
    'aws',
    'ec2',
    'describe-security-groups',
    '--filters',
    `Name=group-name,Values=${name}`,
    `Name=vpc-id,Values=${vpcId}`,
    '--query',
    'SecurityGroups[0].GroupId',
    '--output',
    'text',
  ]);
}

async function ensureGroup(ws: Workstation, vpcId: string, name: string, description: string) {
  const existing = await groupIdByName(ws, vpcId, name);
  if (existing !== 'None') return existing;
  await ws.ok([
    'aws',
    'ec2',
    'create-security-group',
    '--description',
    description,
    '--group-name',
    name,
    '--vpc-id',
    vpcId,
  ]);
  return groupIdByName(ws, vpcId, name);
}

async function authorize(
  ws: Workstation,
  groupId: string,
  protocol: string,
  port: number,
  source: string,
) {
  const result = await ws.run([
    'aws',
    'ec2',
    'authorize-security-group-ingress',
    '--group-id',
    groupId,
    '--protocol',
    protocol,
    '--port',
    String(port),
    '--source-group',
    source,
  ]);
  if (result.code !== 0 && !result.stderr.includes('InvalidPermission.Duplicate'))
    throw new Error(`authorize-security-group-ingress failed: ${result.stderr}`);
}

async function securityGroups(ws: Workstation, cluster: string): Promise<Groups> {
  const vpcId = await ws.ok([
    'aws',
    'eks',
    'describe-cluster',
    '--name',
    cluster,
    '--query',
    'cluster.resourcesVpcConfig.vpcId',
    '--output',
    'text',
  ]);
  const podSg = await ensureGroup(ws, vpcId, 'POD_SG', 'POD SG');
  const nodeGroupSg = await ws.ok([
    'aws',
    'ec2',
    'describe-security-groups',
    '--filters',
    `Name=tag:Name,Values=eks-cluster-sg-${cluster}-*`,
    `Name=vpc-id,Values=${vpcId}`,
    '--query',
    'SecurityGroups[0].GroupId',
    '--output',
    'text',
  ]);
  await authorize(ws, nodeGroupSg, 'tcp', 53, podSg);
  await authorize(ws, nodeGroupSg, 'udp', 53, podSg);
  const rdsSg = await ensureGroup(ws, vpcId, 'RDS_SG', 'RDS SG');
  await authorize(ws, rdsSg, 'tcp', 5432, podSg);
  return { vpcId, podSg, rdsSg, nodeGroupSg };
}

function demoPassword(home: string): string {
  const path = join(home, 'demo', 'rds-password');
  mkdirSync(join(home, 'demo'), { recursive: true });
  if (!existsSync(path))
    writeFileSync(path, `${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
  return readFileSync(path, 'utf8').trim();
}

/** The workshop's RDS instance, created if missing; its endpoint once available. */
async function database(
  ws: Workstation,
  cluster: string,
  groups: Groups,
  password: string,
  timeoutMs: number,
): Promise<string> {
  const describe = () =>
    ws.run(
      [
        'aws',
        'rds',
        'describe-db-instances',
        '--db-instance-identifier',
        'rds-eksworkshop',
        '--query',
        'DBInstances[0].[DBInstanceStatus,Endpoint.Address]',
        '--output',
        'text',
      ],
      { quiet: true },
    );
  if ((await describe()).code !== 0) {
    const subnets = (
      await ws.ok([
        'aws',
        'ec2',
        'describe-subnets',
        '--filters',
        `Name=vpc-id,Values=${groups.vpcId}`,
        `Name=tag:Name,Values=eksctl-${cluster}-cluster/SubnetPublic*`,
        '--query',
        'Subnets[*].SubnetId',
        '--output',
        'text',
      ])
    ).split(/\s+/);
    const group = await ws.run(
      ['aws', 'rds', 'describe-db-subnet-groups', '--db-subnet-group-name', 'rds-eksworkshop'],
      { quiet: true },
    );
    if (group.code !== 0)
      await ws.ok([
        'aws',
        'rds',
        'create-db-subnet-group',
        '--db-subnet-group-name',
        'rds-eksworkshop',
        '--db-subnet-group-description',
        'rds-eksworkshop',
        '--subnet-ids',
        ...subnets,
      ]);
    await ws.ok([
      'aws',
      'rds',
      'create-db-instance',
      '--db-instance-identifier',
      'rds-eksworkshop',
      '--db-name',
      'eksworkshop',
      '--db-instance-class',
      'db.t3.micro',
      '--engine',
      'postgres',
      '--db-subnet-group-name',
      'rds-eksworkshop',
      '--vpc-security-group-ids',
      groups.rdsSg,
      '--master-username',
      'eksworkshop',
      '--publicly-accessible',
      '--master-user-password',
      password,
      '--backup-retention-period',
      '0',
      '--allocated-storage',
      '20',
    ]);
  }
  let endpoint = '';
  await until(
    async () => {
      const [status = '', address = ''] = (await describe()).stdout.split(/\s+/);
      endpoint = address;
      return status === 'available';
    },
    'the RDS instance to be available',
    timeoutMs,
  );
  return endpoint;
}

async function enablePodEni(ws: Workstation, timeoutMs: number): Promise<void> {
  await ws.ok([
    'kubectl',
    '-n',
    'kube-system',
    'set',
    'env',
    'daemonset',
    'aws-node',
    'ENABLE_POD_ENI=true',
  ]);
  await ws.ok([
    'kubectl',
    '-n',
    'kube-system',
    'rollout',
    'status',
    'daemonset',
    'aws-node',
    '--timeout=180s',
  ]);
  await until(
    async () =>
      (await ws.ok(
        [
          'kubectl',
          'get',
          'nodes',
          '-l',
          'vpc.amazonaws.com/has-trunk-attached=true',
          '-o',
          'name',
        ],
        { quiet: true },
      )) !== '',
    'a node labelled vpc.amazonaws.com/has-trunk-attached=true',
    timeoutMs,
  );
  process.stdout.write(
    await ws.ok(['kubectl', 'get', 'nodes', '-L', 'vpc.amazonaws.com/has-trunk-attached']),
  );
  process.stdout.write('\n');
}

const policyYaml = (
  name: string,
  app: string,
  groupId: string,
) => `apiVersion: vpcresources.k8s.aws/v1beta1
kind: SecurityGroupPolicy
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  podSelector:
    matchLabels:
      app: ${app}
  securityGroups:
    groupIds:
      - ${groupId}
`;

/** The policy is in both webhook replicas' caches once dry runs of a matching pod get the request. */
async function waitForWebhooks(ws: Workstation, app: string, timeoutMs: number): Promise<void> {
  const probe = `apiVersion: v1\nkind: Pod\nmetadata: {name: probe, namespace: ${namespace}, labels: {app: ${app}}}\nspec: {containers: [{name: c, image: busybox}]}\n`;
  let streak = 0;
  await until(
    async () => {
      const dry = await ws.run(['kubectl', 'apply', '--dry-run=server', '-o', 'json', '-f', '-'], {
        input: probe,
        quiet: true,
      });
      streak = dry.stdout.includes('vpc.amazonaws.com/pod-eni') ? streak + 1 : 0;
      return streak >= 3;
    },
    `the webhooks to know the ${app} policy`,
    timeoutMs,
  );
}

/** The table, loaded once from a pod carrying POD_SG (where the workshop used its Cloud9). */
async function loadTable(
  ws: Workstation,
  podSg: string,
  endpoint: string,
  password: string,
  timeoutMs: number,
): Promise<void> {
  await ws.ok(['kubectl', 'apply', '-f', '-'], {
    input: policyYaml('rds-loader', 'rds-loader', podSg),
  });
  await waitForWebhooks(ws, 'rds-loader', timeoutMs);
  const sql =
    "CREATE TABLE IF NOT EXISTS welcome (column1 TEXT); INSERT INTO welcome SELECT * FROM (VALUES ('--------------------------'), ('Welcome to the eksworkshop'), ('--------------------------')) AS v WHERE NOT EXISTS (SELECT 1 FROM welcome);";
  await ws.ok(
    [
      'kubectl',
      'delete',
      'pod',
      '-n',
      namespace,
      'rds-loader',
      '--ignore-not-found',
      '--wait=true',
    ],
    { quiet: true },
  );
  await ws.ok(['kubectl', 'apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'rds-loader', namespace, labels: { app: 'rds-loader' } },
      spec: {
        restartPolicy: 'OnFailure',
        containers: [
          {
            name: 'psql',
            image: 'debian',
            env: [{ name: 'PGCONNECT_TIMEOUT', value: '5' }],
            command: [
              'psql',
              `postgresql://eksworkshop:${password}@${endpoint}:5432/eksworkshop`,
              '-c',
              sql,
            ],
          },
        ],
      },
    }),
    quiet: true,
  });
  await until(
    async () =>
      (await ws.ok(
        ['kubectl', '-n', namespace, 'get', 'pod', 'rds-loader', '-o', 'jsonpath={.status.phase}'],
        { quiet: true },
      )) === 'Succeeded',
    'the table to be loaded',
    timeoutMs,
  );
  await ws.ok(['kubectl', 'delete', 'pod', '-n', namespace, 'rds-loader', '--wait=false'], {
    quiet: true,
  });
}

interface PodView {
  readonly name: string;
  readonly ip: string;
  readonly node: string;
  readonly eniId: string;
  readonly log: string;
}

async function podOf(ws: Workstation, app: string): Promise<PodView | undefined> {
  const found = JSON.parse(
    await ws.ok(['kubectl', '-n', namespace, 'get', 'pods', '-l', `app=${app}`, '-o', 'json'], {
      quiet: true,
    }),
  ) as {
    items: {
      metadata: { name: string; annotations?: Record<string, string> };
      spec: { nodeName?: string };
      status: { podIP?: string; phase?: string };
    }[];
  };
  const pod = found.items.find((item) => item.status.phase === 'Running');
  if (!pod) return undefined;
  const annotation = pod.metadata.annotations?.['vpc.amazonaws.com/pod-eni'];
  const branch = annotation
    ? (JSON.parse(annotation) as { eniId?: string }[])[0]?.eniId
    : undefined;
  const log = (
    await ws.run(['kubectl', '-n', namespace, 'logs', pod.metadata.name, '--tail=50'], {
      quiet: true,
    })
  ).stdout;
  return {
    name: pod.metadata.name,
    ip: pod.status.podIP ?? '',
    node: pod.spec.nodeName ?? '',
    eniId: branch ?? '',
    log,
  };
}

/** The ENI a pod's packets leave through, and its groups' names. */
async function eniOf(ws: Workstation, pod: PodView): Promise<{ eniId: string; groups: string }> {
  const filter = pod.eniId
    ? ['--network-interface-ids', pod.eniId]
    : ['--filters', `Name=addresses.private-ip-address,Values=${pod.ip}`];
  const text = await ws.ok(
    [
      'aws',
      'ec2',
      'describe-network-interfaces',
      ...filter,
      '--query',
      'NetworkInterfaces[0].[NetworkInterfaceId,join(`,`, Groups[].GroupName)]',
      '--output',
      'text',
    ],
    { quiet: true },
  );
  const [eniId = '', groups = ''] = text.split('\t');
  return { eniId, groups };
}

function lastLines(log: string, count: number): string {
  return log
    .split('\n')
    .filter(Boolean)
    .slice(-count)
    .map((line) => `    ${line}`)
    .join('\n');
}

async function verdict(ws: Workstation): Promise<boolean> {
  const rows: string[][] = [['POD', 'NODE', 'ENI', 'SECURITY GROUPS', 'RESULT']];
  let ok = true;
  for (const [app, expected, kind] of [
    ['green-pod', rowsMark, 'branch ENI'],
    ['red-pod', timeoutMark, 'node ENI'],
  ] as const) {
    const pod = await podOf(ws, app);
    if (!pod) {
      rows.push([app, '-', '-', '-', 'not running']);
      ok = false;
      continue;
    }
    const eni = await eniOf(ws, pod);
    const passed = pod.log.includes(expected);
    ok &&= passed;
    const result = expected === rowsMark ? 'read the welcome table' : 'connection timed out';
    rows.push([
      pod.name,
      pod.node,
      `${eni.eniId} (${kind})`,
      eni.groups,
      passed ? result : 'UNEXPECTED',
    ]);
    process.stdout.write(`\n${pod.name} logs:\n${lastLines(pod.log, 4)}\n`);
  }
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  process.stdout.write(
    `\n${rows
      .map((row) =>
        row
          .map((cell, column) => cell.padEnd(widths[column] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n')}\n\n`,
  );
  return ok;
}

/** Both pods have printed what decides the verdict (or the deadline passed). */
async function waitForOutcomes(ws: Workstation, timeoutMs: number): Promise<void> {
  await until(
    async () => {
      const [green, red] = await Promise.all([podOf(ws, 'green-pod'), podOf(ws, 'red-pod')]);
      return (green?.log.includes(rowsMark) ?? false) && (red?.log.includes(timeoutMark) ?? false);
    },
    'green to print the rows and red the timeout',
    timeoutMs,
  ).catch((error: unknown) => {
    process.stdout.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
  });
}

export async function runDemo(options: DemoOptions): Promise<ExitCode> {
  const { home } = options;
  const timeoutMs = options.timeoutMs ?? 180_000;
  const started = Date.now();
  const upCode = await runUp({ home });
  if (upCode !== exitCodes.success) return upCode;
  const config = JSON.parse(readFileSync(clusterConfigPathOf(home), 'utf8')) as ClusterConfig;
  const ws = new Workstation(home);

  let done = stepTitle(
    'an m5.large node group (eksctl create nodegroup -f nodegroup-sec-group.yaml)',
  );
  const nodeGroupFile = join(home, 'demo', 'nodegroup-sec-group.yaml');
  mkdirSync(join(home, 'demo'), { recursive: true });
  writeFileSync(
    nodeGroupFile,
    `apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata:\n  name: ${config.name}\n  region: ${config.region}\nmanagedNodeGroups:\n  - name: nodegroup-sec-group\n    desiredCapacity: 1\n    instanceType: m5.large\n`,
  );
  const nodeGroupCode = await runNodeGroupCreate({ home, file: nodeGroupFile });
  if (nodeGroupCode !== exitCodes.success) return nodeGroupCode;
  done();

  done = stepTitle('POD_SG and RDS_SG, DNS from POD_SG to the node group, PostgreSQL from POD_SG');
  const groups = await securityGroups(ws, config.name);
  done();

  done = stepTitle('the RDS PostgreSQL instance rds-eksworkshop in RDS_SG');
  const password = demoPassword(home);
  const endpoint = await database(ws, config.name, groups, password, timeoutMs);
  process.stdout.write(`  endpoint: ${endpoint}\n`);
  done();

  done = stepTitle(
    'the CNI: ENABLE_POD_ENI=true on aws-node (trunk ENI, has-trunk-attached label)',
  );
  await enablePodEni(ws, timeoutMs);
  done();

  done = stepTitle('namespace sg-per-pod, the SecurityGroupPolicy, the table, the secret');
  await ws.ok(['kubectl', 'apply', '-f', '-'], {
    input: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n`,
  });
  await ws.ok(['kubectl', 'apply', '-f', '-'], {
    input: policyYaml('allow-rds-access', 'green-pod', groups.podSg),
  });
  await loadTable(ws, groups.podSg, endpoint, password, timeoutMs);
  await ws.ok(['kubectl', 'apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'rds', namespace },
      stringData: { host: endpoint, password },
    }),
  });
  await waitForWebhooks(ws, 'green-pod', timeoutMs);
  done();

  done = stepTitle('the workshop Deployments, unchanged: green-pod and red-pod');
  for (const file of ['green-pod.yaml', 'red-pod.yaml'])
    await ws.ok(['kubectl', 'apply', '-f', join(workshopFiles, file)]);
  for (const name of ['green-pod', 'red-pod'])
    await ws.ok([
      'kubectl',
      '-n',
      namespace,
      'rollout',
      'status',
      `deployment/${name}`,
      '--timeout=180s',
    ]);
  await waitForOutcomes(ws, timeoutMs);
  done();

  const ok = await verdict(ws);
  process.stdout.write(
    `demo: ${ok ? 'green reads RDS through its branch ENI (POD_SG); red, on the node ENI, times out' : "the outcome is not the workshop's"} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
  );
  return ok ? exitCodes.success : exitCodes.negative;
}
