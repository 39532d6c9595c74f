/**
 * The sandbox (root; the built CLI, `npm run build` first): `sgpods up` on a fresh home until it
 * returns (two t3.large nodes Ready, aws-node and coredns running), three rounds, each followed
 * by `sgpods down --purge`; beside it the cloud alone (`sgpods cloud` until it serves: the
 * baseline every `up` pays first). Also a second `up` on a running sandbox (nothing to start),
 * `nodegroup create` of one m5.large node until Ready, and the first pod on a fresh node until
 * Running (the agent's IPAM: AssignPrivateIpAddresses on the spot).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Benchmark } from './run.js';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const rounds = 3;

function sgpods(home: string, args: readonly string[]): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, [cli, '--home', home, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
    timeout: 300_000,
  });
  if (result.status !== 0)
    throw new Error(`sgpods ${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
  return performance.now() - started;
}

function kubectl(home: string, args: readonly string[]): string {
  const result = spawnSync('kubectl', [...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      KUBECONFIG: join(home, 'kubeconfig'),
      KUBECACHEDIR: join(home, 'kubectl-cache'),
    },
  });
  if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** `sgpods cloud` until its aws-env is written (it serves then), then stopped. */
async function cloudAlone(home: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [cli, '--home', home, 'cloud'], { stdio: 'ignore' });
  while (!existsSync(join(home, 'aws-env'))) {
    if (performance.now() - started > 60_000) throw new Error('the cloud did not start');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const elapsed = performance.now() - started;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  sgpods(home, ['down', '--purge']);
  return elapsed;
}

const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

export const sandboxBenchmark: Benchmark = {
  name: 'sandbox',
  async run() {
    const ups: number[] = [];
    const clouds: number[] = [];
    const downs: number[] = [];
    let again = 0;
    let nodegroup = 0;
    let firstPod = 0;
    for (let round = 0; round < rounds; round += 1) {
      const cloudHome = mkdtempSync(join(tmpdir(), 'sgpods-bench-'));
      clouds.push(await cloudAlone(cloudHome));
      rmSync(cloudHome, { recursive: true, force: true });
      const home = mkdtempSync(join(tmpdir(), 'sgpods-bench-'));
      try {
        ups.push(sgpods(home, ['up']));
        if (round === 0) {
          again = sgpods(home, ['up']);
          const file = join(home, 'nodegroup.yaml');
          writeFileSync(
            file,
            'apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: {name: eksworkshop-eksctl, region: us-west-2}\nmanagedNodeGroups:\n- {name: sec, instanceType: m5.large, desiredCapacity: 1}\n',
          );
          nodegroup = sgpods(home, ['nodegroup', 'create', '-f', file]);
          const node = kubectl(home, [
            'get',
            'nodes',
            '-l',
            'node.kubernetes.io/instance-type=m5.large',
            '-o',
            'jsonpath={.items[0].metadata.name}',
          ]);
          const started = performance.now();
          kubectl(home, [
            'run',
            'first',
            '--image=busybox',
            `--overrides={"spec":{"nodeName":"${node}"}}`,
            '--',
            'sleep',
            '3600',
          ]);
          kubectl(home, ['wait', '--for=condition=Ready', 'pod/first', '--timeout=120s']);
          firstPod = performance.now() - started;
        }
      } finally {
        downs.push(sgpods(home, ['down', '--purge']));
        rmSync(home, { recursive: true, force: true });
      }
    }
    return {
      up_to_ready_median_s: Number((median(ups) / 1000).toFixed(2)),
      up_to_ready_max_s: Number((Math.max(...ups) / 1000).toFixed(2)),
      cloud_alone_median_s: Number((median(clouds) / 1000).toFixed(2)),
      up_again_s: Number((again / 1000).toFixed(2)),
      nodegroup_create_one_m5_large_s: Number((nodegroup / 1000).toFixed(2)),
      first_pod_on_new_node_s: Number((firstPod / 1000).toFixed(2)),
      down_purge_median_s: Number((median(downs) / 1000).toFixed(2)),
    };
  },
};
