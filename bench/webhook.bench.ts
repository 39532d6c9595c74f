/**
 * The controller's pod webhook at 1,000 SecurityGroupPolicies in the pod's namespace: the built
 * `sgpods kube-apiserver` in its own process, 1,000 policies (the last one matches), the
 * controller started against it, then 2,000 sequential AdmissionReviews to `/mutate-v1-pod`
 * over HTTPS (keep-alive): a matching pod (every policy judged, the patch built), beside a
 * hostNetwork pod (no lookup: the HTTPS + AdmissionReview floor) as the baseline.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubeClientOf } from '../src/cli/sandbox/sandbox-session.js';
import { startController } from '../src/controller/controller.js';
import { controllerSettingsFrom } from '../src/controller/controller-settings.js';
import { percentile } from './random.js';
import type { Benchmark } from './run.js';

const policies = 1000;
const rounds = 2000;

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('benchmark condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function post(agent: Agent, port: number, ca: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const call = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate-v1-pod',
        method: 'POST',
        agent,
        ca,
        servername: 'vpc-resource-webhook-service.default.svc',
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
      },
    );
    call.on('error', reject);
    call.end(body);
  });
}

function review(labels: Record<string, string>, hostNetwork: boolean): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '00000000-0000-0000-0000-000000000001',
      operation: 'CREATE',
      namespace: 'bench',
      userInfo: { username: 'bench' },
      object: {
        metadata: { generateName: 'p-', namespace: 'bench', labels },
        spec: { hostNetwork, containers: [{ name: 'app', image: 'busybox' }] },
      },
    },
  });
}

async function latencies(agent: Agent, port: number, ca: string, body: string): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < rounds; index += 1) {
    const started = performance.now();
    await post(agent, port, ca, body);
    times.push(performance.now() - started);
  }
  // percentile() reads a sorted list.
  return times.sort((a, b) => a - b);
}

export const webhookBenchmark: Benchmark = {
  name: 'webhook',
  async run() {
    const home = mkdtempSync(join(tmpdir(), 'sgpods-bench-webhook-'));
    const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
    const server = spawn(
      process.execPath,
      ['--import', 'tsx', main, '--home', home, 'kube-apiserver'],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await until(() => existsSync(join(home, 'kubeconfig')), 30_000);
      const client = adminClient(home);
      await client.create('/api/v1/namespaces', { metadata: { name: 'bench' } });
      await client
        .create('/api/v1/namespaces/bench/serviceaccounts', { metadata: { name: 'default' } })
        .catch(() => undefined);
      for (let index = 0; index < policies; index += 1) {
        await client.create(
          '/apis/vpcresources.k8s.aws/v1beta1/namespaces/bench/securitygrouppolicies',
          {
            apiVersion: 'vpcresources.k8s.aws/v1beta1',
            kind: 'SecurityGroupPolicy',
            metadata: { name: `policy-${String(index)}` },
            spec: {
              podSelector: { matchLabels: { app: `app-${String(index)}` } },
              securityGroups: { groupIds: [`sg-${index.toString(16).padStart(17, '0')}`] },
            },
          },
        );
      }
      client.close();
      const controller = await startController(
        controllerSettingsFrom({
          clusterName: 'bench',
          vpcId: 'vpc-0',
          kubeconfig: join(home, 'kubeconfig'),
          webhookPort: 0,
          metricsBindAddress: '127.0.0.1:0',
          healthProbeBindAddress: '127.0.0.1:0',
          webhookServiceNamespace: 'default',
        }),
      );
      try {
        const ca = await caOf(home);
        const port = controller.webhookPort;
        const matching = review({ app: `app-${String(policies - 1)}` }, false);
        const floor = review({ app: 'x' }, true);
        const answer = await post(agent, port, ca, matching);
        if (!answer.includes('"patchType":"JSONPatch"')) throw new Error(`no patch: ${answer}`);
        await latencies(agent, port, ca, floor); // warm-up
        const matched = await latencies(agent, port, ca, matching);
        const baseline = await latencies(agent, port, ca, floor);
        return {
          webhook_mutate_1000_policies_p50_ms: Number(percentile(matched, 50).toFixed(2)),
          webhook_mutate_1000_policies_p99_ms: Number(percentile(matched, 99).toFixed(2)),
          webhook_host_network_baseline_p50_ms: Number(percentile(baseline, 50).toFixed(2)),
          webhook_host_network_baseline_p99_ms: Number(percentile(baseline, 99).toFixed(2)),
        };
      } finally {
        await controller.close();
      }
    } finally {
      agent.destroy();
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
      rmSync(home, { recursive: true, force: true });
    }
  },
};

/** The home's admin client (its kubeconfig's server and token). */
function adminClient(home: string) {
  const client = kubeClientOf(home);
  if (!client) throw new Error(`no API server in ${home}`);
  return client;
}

/** The webhook's CA, from the Secret the controller made (read through the API). */
async function caOf(home: string): Promise<string> {
  const client = adminClient(home);
  try {
    const secret = await client.get<{ data: Record<string, string> }>(
      '/api/v1/namespaces/default/secrets/vpc-resource-webhook-serving-cert',
    );
    return Buffer.from(secret.data['ca.crt'] ?? '', 'base64').toString('utf8');
  } finally {
    client.close();
  }
}
