/**
 * The local Kubernetes API server (its own process, as `sgpods kube-apiserver` runs it) at
 * 10,000 pods: creates per second over HTTPS with 16 in flight, while one watch receives every
 * ADDED event (events per second, and the lag of the last one); then list latency p50/p99 with a
 * label selector matching 100 pods, beside a full list of all 10,000 (the baseline) and a GET of
 * one pod; the server's RSS before and after.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile } from './random.js';
import type { Benchmark } from './run.js';

const pods = 10_000;
const inFlight = 16;
const listSamples = 40;

interface Connection {
  readonly url: string;
  readonly ca: string;
  readonly token: string;
  readonly agent: Agent;
}

function call(
  connection: Connection,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      `${connection.url}${path}`,
      {
        method,
        ca: connection.ca,
        agent: connection.agent,
        headers: {
          Authorization: `Bearer ${connection.token}`,
          'Content-Type': 'application/json',
          ...(body ? { 'Content-Length': Buffer.byteLength(body) } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kib / 1024;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`kube bench: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function podBody(index: number): string {
  return JSON.stringify({
    metadata: {
      name: `pod-${index}`,
      labels: { app: `app-${index % 100}`, tier: index % 2 === 0 ? 'web' : 'db' },
    },
    spec: { containers: [{ name: 'c', image: 'sgpods/demo:1' }], nodeName: `node-${index % 50}` },
  });
}

async function latencies(
  connection: Connection,
  path: string,
): Promise<{ p50: number; p99: number; bytes: number }> {
  const samples: number[] = [];
  let bytes = 0;
  for (let sample = 0; sample < listSamples; sample++) {
    const started = performance.now();
    const answer = await call(connection, 'GET', path);
    samples.push(performance.now() - started);
    bytes = answer.text.length;
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), bytes };
}

async function measure(connection: Connection, pid: number): Promise<Record<string, number>> {
  const namespace = '/api/v1/namespaces/bench';
  await call(connection, 'POST', '/api/v1/namespaces', '{"metadata":{"name":"bench"}}');
  const rssBefore = rssMiB(pid);
  let watched = 0;
  let lastEventAt = 0;
  const watch = request(
    `${connection.url}${namespace}/pods?watch=true`,
    { ca: connection.ca, headers: { Authorization: `Bearer ${connection.token}` } },
    (response) => {
      let partial = '';
      response.on('data', (chunk: Buffer) => {
        // Events are lines; a chunk may end mid-line.
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        watched += lines.filter((line) => line.startsWith('{"type":"ADDED"')).length;
        lastEventAt = performance.now();
      });
    },
  );
  watch.on('error', () => undefined);
  watch.end();
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < pods) {
      const index = next++;
      const answer = await call(connection, 'POST', `${namespace}/pods`, podBody(index));
      if (answer.status !== 201)
        throw new Error(`create answered ${answer.status}: ${answer.text}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const created = performance.now();
  await until(() => watched >= pods, 60_000, 'the watch to see every pod');
  watch.destroy();
  const selected = await latencies(connection, `${namespace}/pods?labelSelector=app%3Dapp-7`);
  const everything = await latencies(connection, `${namespace}/pods`);
  const one = await latencies(connection, `${namespace}/pods/pod-4242`);
  return {
    kube_create_pods_per_s: pods / ((created - started) / 1000),
    kube_watch_events_per_s: pods / ((lastEventAt - started) / 1000),
    kube_watch_lag_after_last_create_ms: Math.max(0, lastEventAt - created),
    kube_list_label_selector_100_of_10000_p50_ms: selected.p50,
    kube_list_label_selector_100_of_10000_p99_ms: selected.p99,
    kube_list_all_10000_p50_ms: everything.p50,
    kube_list_all_10000_p99_ms: everything.p99,
    kube_list_all_10000_bytes: everything.bytes,
    kube_get_one_pod_p50_ms: one.p50,
    kube_get_one_pod_p99_ms: one.p99,
    kube_server_rss_empty_mib: rssBefore,
    kube_server_rss_10000_pods_mib: rssMiB(pid),
  };
}

export const kubeBenchmark: Benchmark = {
  name: 'kube',
  async run() {
    const home = mkdtempSync(join(tmpdir(), 'sgpods-bench-kube-'));
    const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
    const server = spawn(
      process.execPath,
      ['--import', 'tsx', main, '--home', home, 'kube-apiserver', '--no-crds'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
    try {
      await until(() => existsSync(join(home, 'kubeconfig')), 30_000, 'the server to start');
      const config = readFileSync(join(home, 'kubeconfig'), 'utf8');
      const connection: Connection = {
        url: /server: (\S+)/.exec(config)?.[1] ?? '',
        ca: readFileSync(join(home, 'pki', 'ca.crt'), 'utf8'),
        token: /token: (\S+)/.exec(config)?.[1] ?? '',
        agent,
      };
      return await measure(connection, server.pid ?? 0);
    } finally {
      agent.destroy();
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
      rmSync(home, { recursive: true, force: true });
    }
  },
};
