/**
 * CNI ADD on the sandbox (root; the built CLI, `npm run build` first): one m5.large with
 * `ENABLE_POD_ENI=true` (strict), three rounds of 7 regular and 8 branch-ENI pods created at once
 * and deleted. The times are the plugin's own (`plugin.log` beside the agent's socket: from the
 * kubelet starting the plugin to its answer), so regular pods are the baseline measured side by
 * side: a branch ADD also waits for the agent (the pod's annotation, the policy check) and wires
 * the VLAN's route table and rules. ADDs that ended in "try again" (the annotation not there yet
 * within the agent's wait) are counted apart.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readAwsEnvVariables } from '../src/adapters/aws/home-aws.js';
import { percentile } from './random.js';
import type { Benchmark } from './run.js';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const rounds = 3;
const regularPods = 7;
const branchPods = 8;

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv, input?: string) {
  const result = spawnSync(command, [...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 300_000,
    ...(input === undefined ? {} : { input }),
  });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
  return result.stdout.trim();
}

interface PluginLine {
  readonly command: string;
  readonly kind?: 'branch' | 'regular';
  readonly agentMs?: number;
  readonly totalMs: number;
  readonly error?: string;
}

const podYaml = (name: string, app: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: bench, labels: {app: ${app}}}
spec:
  nodeSelector: {pool: sgp}
  terminationGracePeriodSeconds: 1
  containers: [{name: app, image: busybox, command: [sleep, '3600']}]
`;

export const cniAddBenchmark: Benchmark = {
  name: 'cni-add',
  run() {
    const home = mkdtempSync(join(tmpdir(), 'sgpods-bench-'));
    const env = { KUBECONFIG: join(home, 'kubeconfig'), KUBECACHEDIR: join(home, 'kubectl-cache') };
    const sgpods = (...args: string[]) =>
      run(process.execPath, [cli, '--home', home, ...args], { NODE_NO_WARNINGS: '1' });
    const kubectl = (args: readonly string[], input?: string) => run('kubectl', args, env, input);
    try {
      sgpods('up');
      const file = join(home, 'nodegroup.yaml');
      writeFileSync(
        file,
        'apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: eksworkshop-eksctl, region: us-west-2}\nmanagedNodeGroups:\n  - {name: bench, desiredCapacity: 1, instanceType: m5.large, labels: {pool: sgp}}\n',
      );
      sgpods('nodegroup', 'create', '-f', file);
      const node = kubectl([
        'get',
        'nodes',
        '-l',
        'pool=sgp',
        '-o',
        'jsonpath={.items[0].metadata.name}',
      ]);
      const instanceId = kubectl(['get', 'node', node, '-o', 'jsonpath={.spec.providerID}'])
        .split('/')
        .pop();
      kubectl([
        '-n',
        'kube-system',
        'create',
        'configmap',
        'amazon-vpc-cni',
        '--from-literal=branch-eni-cooldown=30',
      ]);
      kubectl(['-n', 'kube-system', 'set', 'env', 'daemonset', 'aws-node', 'ENABLE_POD_ENI=true']);
      kubectl(['-n', 'kube-system', 'rollout', 'status', 'daemonset/aws-node', '--timeout=120s']);
      kubectl([
        'wait',
        '--for=jsonpath={.status.allocatable.vpc\\.amazonaws\\.com/pod-eni}=9',
        `node/${node}`,
        '--timeout=120s',
      ]);
      kubectl(['create', 'namespace', 'bench']);
      const awsEnv = readAwsEnvVariables(home);
      const vpcId = run(
        'aws',
        ['ec2', 'describe-vpcs', '--query', 'Vpcs[0].VpcId', '--output', 'text'],
        awsEnv,
      );
      const group = run(
        'aws',
        [
          'ec2',
          'create-security-group',
          '--group-name',
          'BENCH_SG',
          '--description',
          'bench',
          '--vpc-id',
          vpcId,
          '--query',
          'GroupId',
          '--output',
          'text',
        ],
        awsEnv,
      );
      kubectl(
        ['apply', '-f', '-'],
        `apiVersion: vpcresources.k8s.aws/v1beta1\nkind: SecurityGroupPolicy\nmetadata: {name: bench, namespace: bench}\nspec:\n  podSelector: {matchLabels: {app: branch}}\n  securityGroups: {groupIds: [${group}]}\n`,
      );
      // Both webhook replicas know the policy once dry runs get the request three times running.
      for (let streak = 0, tries = 0; streak < 3 && tries < 300; tries += 1) {
        const dry = kubectl(
          ['apply', '--dry-run=server', '-o', 'json', '-f', '-'],
          podYaml('probe', 'branch'),
        );
        streak = dry.includes('vpc.amazonaws.com/pod-eni') ? streak + 1 : 0;
      }
      for (let round = 0; round < rounds; round += 1) {
        const pods = [
          ...Array.from({ length: regularPods }, (_, i) =>
            podYaml(`regular-${String(i)}`, 'regular'),
          ),
          ...Array.from({ length: branchPods }, (_, i) => podYaml(`branch-${String(i)}`, 'branch')),
        ];
        kubectl(['apply', '-f', '-'], pods.join('---\n'));
        kubectl(['-n', 'bench', 'wait', '--for=condition=Ready', 'pod', '--all', '--timeout=180s']);
        kubectl(['-n', 'bench', 'delete', 'pod', '--all', '--wait=true', '--timeout=120s']);
      }
      const lines = readFileSync(
        join(home, 'run', 'aws-node', instanceId ?? '', 'plugin.log'),
        'utf8',
      )
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as PluginLine)
        .filter((line) => line.command === 'ADD');
      const done = (kind: string) => lines.filter((line) => line.kind === kind && !line.error);
      const sorted = (values: number[]) => values.sort((a, b) => a - b);
      const regular = sorted(done('regular').map((line) => line.totalMs));
      const branch = sorted(done('branch').map((line) => line.totalMs));
      const wiring = sorted(done('branch').map((line) => line.totalMs - (line.agentMs ?? 0)));
      return {
        cni_add_regular_p50_ms: percentile(regular, 50),
        cni_add_regular_p99_ms: percentile(regular, 99),
        cni_add_branch_p50_ms: percentile(branch, 50),
        cni_add_branch_p99_ms: percentile(branch, 99),
        cni_add_branch_wiring_p50_ms: percentile(wiring, 50),
        cni_add_branch_wiring_p99_ms: percentile(wiring, 99),
        cni_add_samples_count: regular.length + branch.length,
        cni_add_try_again_count: lines.filter((line) => line.error).length,
      };
    } finally {
      spawnSync(process.execPath, [cli, '--home', home, 'down', '--purge'], { stdio: 'ignore' });
      rmSync(home, { recursive: true, force: true });
    }
  },
};
