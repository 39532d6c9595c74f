/**
 * The local cluster runtime (root; the built CLI, `npm run build` first):
 *
 * - `sgpods kube --nodes 3`: a Deployment of 100 replicas (busybox running `sleep`) created over
 *   HTTPS, until the Deployment reports 100 available (scheduler, ReplicaSet controller, three
 *   kubelets: sandbox through CNI, container, status), then deleted until no pod is left; the
 *   runtime's RSS with the 100 pods;
 * - Services: Service create → the first successful connection to its ClusterIP from a pod (5
 *   Services, p50 and max); cluster DNS: 500 sequential A queries from a pod through the
 *   kube-dns ClusterIP, beside the same queries sent straight to a DNS pod (the baseline);
 * - the CNI plugin as a kubelet runs it: ADD and DEL p50/p99 on a node namespace of its own,
 *   beside the plugin's VERSION (the baseline: starting the plugin process and nothing else).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../src/adapters/exec/run-command.js';
import { KubeHttpClient } from '../src/adapters/kube/kube-http-client.js';
import { addNamespace } from '../src/adapters/netns/netns.js';
import { sweepOwnedNamespaces } from '../src/adapters/netns/sweep.js';
import { kernelPrefix } from '../src/core/kernel-names.js';
import { cniAdd, cniDel, type CniNode } from '../src/servers/kube/runtime/cni/cni-runner.js';
import { podNamespaceOf } from '../src/servers/kube/runtime/kubelet/pod-sandbox.js';
import { percentile } from './random.js';
import type { Benchmark } from './run.js';

const replicas = 100;
const cniRounds = 60;
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const pluginMain = fileURLToPath(
  new URL('../dist/servers/kube/runtime/cni/ptp-plugin-main.js', import.meta.url),
);

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('benchmark condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

async function deploymentRun(home: string): Promise<Record<string, number>> {
  const child = spawn(
    process.execPath,
    [cli, '--home', home, 'kube', '--nodes', '3', '--instance-type', 'm5.xlarge'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until(() => Promise.resolve(output.includes('serving')), 60_000);
    const client = adminClient(home);
    const path = '/apis/apps/v1/namespaces/default/deployments';
    const started = Date.now();
    await client.create(path, {
      metadata: { name: 'bench' },
      spec: {
        replicas,
        selector: { matchLabels: { app: 'bench' } },
        template: {
          metadata: { labels: { app: 'bench' } },
          spec: {
            terminationGracePeriodSeconds: 5,
            containers: [{ name: 'app', image: 'busybox', command: ['sleep', '3600'] }],
          },
        },
      },
    });
    await until(async () => {
      const deployment = await client.get(`${path}/bench`);
      return (deployment.status as { availableReplicas?: number }).availableReplicas === replicas;
    }, 600_000);
    const allRunning = (Date.now() - started) / 1000;
    const rss = rssMiB(child.pid ?? 0);
    const deleting = Date.now();
    await client.delete(`${path}/bench`);
    await until(async () => {
      const pods = await client.get<{ items: unknown[] }>('/api/v1/namespaces/default/pods');
      return pods.items.length === 0;
    }, 600_000);
    const allGone = (Date.now() - deleting) / 1000;
    client.close();
    return {
      runtime_deployment_100_available_s: allRunning,
      runtime_deployment_100_deleted_s: allGone,
      runtime_rss_100_pods_mib: rss,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await runCommand([process.execPath, cli, '--home', home, 'down']);
  }
}

/** A client for benchmarks: the cluster's API as the admin of the home's kubeconfig. */
function adminClient(home: string): KubeHttpClient {
  const kubeconfig = readFileSync(join(home, 'kubeconfig'), 'utf8');
  return new KubeHttpClient({
    url: /server: (\S+)/.exec(kubeconfig)?.[1] ?? '',
    token: /token: (\S+)/.exec(kubeconfig)?.[1] ?? '',
    ca: readFileSync(join(home, 'pki', 'ca.crt'), 'utf8'),
    userAgent: 'sgpods-bench',
  });
}

async function available(client: KubeHttpClient, path: string, replicas: number): Promise<void> {
  await until(async () => {
    const object = await client.get(path).catch(() => undefined);
    return (
      (object?.status as { availableReplicas?: number } | undefined)?.availableReplicas === replicas
    );
  }, 120_000);
}

/** Latencies (ms) of `count` sequential DNS queries sent from inside `namespace`. */
async function dnsLatencies(
  namespace: string,
  server: string,
  name: string,
  count: number,
): Promise<number[]> {
  const script = `
import dgram from 'node:dgram';
import dnsPacket from ${JSON.stringify(fileURLToPath(new URL('../node_modules/dns-packet/index.js', import.meta.url)))};
const socket = dgram.createSocket('udp4');
const times = [];
for (let id = 1; id <= ${count}; id++) {
  const start = performance.now();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), 2000);
    socket.once('message', () => { clearTimeout(timer); resolve(); });
    socket.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: ${JSON.stringify(name)} }] }), 53, ${JSON.stringify(server)});
  });
  times.push(performance.now() - start);
}
console.log(JSON.stringify(times));
socket.close();
`;
  const { stdout } = await runCommand(
    ['nsenter', `--net=/run/netns/${namespace}`, process.execPath, '--input-type=module', '-'],
    { input: script, timeoutMs: 120_000 },
  );
  return (JSON.parse(stdout) as number[]).sort((a, b) => a - b);
}

async function servicesRun(home: string): Promise<Record<string, number>> {
  const child = spawn(process.execPath, [cli, '--home', home, 'kube', '--nodes', '2'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until(() => Promise.resolve(output.includes('serving')), 60_000);
    const client = adminClient(home);
    await available(client, '/apis/apps/v1/namespaces/kube-system/deployments/coredns', 2);
    await client.create('/apis/apps/v1/namespaces/default/deployments', {
      metadata: { name: 'web' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'web',
                image: 'busybox',
                command: ['/usr/bin/python3', '-m', 'http.server', '80'],
              },
            ],
          },
        },
      },
    });
    await available(client, '/apis/apps/v1/namespaces/default/deployments/web', 2);
    const probe = await client.create('/api/v1/namespaces/default/pods', {
      metadata: { name: 'probe' },
      spec: { containers: [{ name: 'probe', image: 'busybox', command: ['sleep', '3600'] }] },
    });
    await until(async () => {
      const pod = await client.get('/api/v1/namespaces/default/pods/probe');
      return (pod.status as { phase?: string }).phase === 'Running';
    }, 60_000);
    const namespace = podNamespaceOf(kernelPrefix(home), probe.metadata.uid ?? '');
    const firstConnections: number[] = [];
    for (let round = 0; round < 5; round += 1) {
      const started = Date.now();
      const service = await client.create('/api/v1/namespaces/default/services', {
        metadata: { name: `web-${round}` },
        spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
      });
      const ip = (service.spec as { clusterIP: string }).clusterIP;
      await until(
        async () => {
          const { stdout } = await runCommand(
            [
              'nsenter',
              `--net=/run/netns/${namespace}`,
              'curl',
              '-s',
              '-o',
              '/dev/null',
              '-w',
              '%{http_code}',
              '--max-time',
              '0.2',
              `http://${ip}/`,
            ],
            { okExitCodes: Array.from({ length: 256 }, (_, code) => code) },
          );
          return stdout === '200';
          // A connection's NAT is decided by its first packet: a try before the rules exist hangs
          // until curl gives up, so tries are short and frequent.
        },
        60_000,
        10,
      );
      firstConnections.push(Date.now() - started);
    }
    firstConnections.sort((a, b) => a - b);
    const dnsPod =
      (
        await client.get<{ items: { status: { podIP: string } }[] }>(
          '/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-dns',
        )
      ).items[0]?.status.podIP ?? '';
    const name = 'web-0.default.svc.cluster.local';
    const viaService = await dnsLatencies(namespace, '10.100.0.10', name, 500);
    const direct = await dnsLatencies(namespace, dnsPod, name, 500);
    client.close();
    return {
      service_create_to_first_connection_p50_ms: percentile(firstConnections, 50),
      service_create_to_first_connection_max_ms: firstConnections.at(-1) ?? Number.NaN,
      dns_query_via_service_p50_ms: percentile(viaService, 50),
      dns_query_via_service_p99_ms: percentile(viaService, 99),
      dns_query_direct_to_pod_baseline_p50_ms: percentile(direct, 50),
      dns_query_direct_to_pod_baseline_p99_ms: percentile(direct, 99),
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await runCommand([process.execPath, cli, '--home', home, 'down']);
  }
}

async function cniRun(home: string): Promise<Record<string, number>> {
  const prefix = kernelPrefix(home);
  const node: CniNode = {
    namespace: `${prefix}node`,
    confDir: join(home, 'net.d'),
    binDir: join(home, 'bin'),
  };
  mkdirSync(node.confDir, { recursive: true });
  mkdirSync(node.binDir, { recursive: true });
  const plugin = join(node.binDir, 'sgpods-ptp');
  writeFileSync(plugin, `#!/bin/sh\nexec ${process.execPath} ${pluginMain}\n`, { mode: 0o755 });
  writeFileSync(
    join(node.confDir, '10-bench.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'bench',
      plugins: [
        { type: 'sgpods-ptp', ipam: { subnet: '10.97.0.0/24', dataDir: join(home, 'ipam') } },
      ],
    }),
  );
  await addNamespace(node.namespace);
  const adds: number[] = [];
  const dels: number[] = [];
  const versions: number[] = [];
  for (let round = 0; round < cniRounds; round += 1) {
    const pod = `${prefix}p${round}`;
    await addNamespace(pod);
    const request = { containerId: `bench-${round}`, netns: `/run/netns/${pod}`, ifname: 'eth0' };
    let start = performance.now();
    await cniAdd(node, request);
    adds.push(performance.now() - start);
    start = performance.now();
    await runCommand([
      'nsenter',
      `--net=/run/netns/${node.namespace}`,
      'env',
      'CNI_COMMAND=VERSION',
      plugin,
    ]);
    versions.push(performance.now() - start);
    start = performance.now();
    await cniDel(node, request);
    dels.push(performance.now() - start);
  }
  for (const list of [adds, dels, versions]) list.sort((a, b) => a - b);
  return {
    cni_add_p50_ms: percentile(adds, 50),
    cni_add_p99_ms: percentile(adds, 99),
    cni_del_p50_ms: percentile(dels, 50),
    cni_del_p99_ms: percentile(dels, 99),
    cni_plugin_start_baseline_p50_ms: percentile(versions, 50),
  };
}

export const runtimeBenchmark: Benchmark = {
  name: 'runtime',
  async run() {
    if (!existsSync(cli) || !existsSync(pluginMain))
      throw new Error('the runtime benchmark runs the built CLI: npm run build first');
    const home = mkdtempSync(join(tmpdir(), 'sgpods-bench-runtime-'));
    try {
      const cni = await cniRun(home);
      const deployment = await deploymentRun(join(home, 'cluster'));
      const services = await servicesRun(join(home, 'services'));
      return { ...deployment, ...services, ...cni };
    } finally {
      await sweepOwnedNamespaces(kernelPrefix(home));
      rmSync(home, { recursive: true, force: true });
    }
  },
};
