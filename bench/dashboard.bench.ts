/**
 * The dashboard (root; the built CLI and page, `npm run build` first; Debian's chromium): on a
 * fresh home after `sgpods demo`, headless Chromium at 1280×800 opens the page 5 times — load
 * event, and until the map shows the RDS instance and the first flow row; then 20 rounds of a TCP
 * connection from green's network namespace to the database, each from its own source port:
 * until its record is in `flows.log` (the flow log's own latency: the baseline, side by side),
 * and until its row is drawn on the open page — from the packet and from the record.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelPrefix } from '../src/core/kernel-names.js';
import { FlowLogTail } from '../src/cli/sandbox/flow-log-tail.js';
import { flowLogPathOf } from '../src/servers/cloud/dataplane/flow-log-collector.js';
import { podNamespaceOf } from '../src/servers/kube/runtime/kubelet/pod-sandbox.js';
import { launchHeadlessChromium } from '../test/support/headless-chromium.js';
import { percentile } from './random.js';
import { until } from './support/root-home.js';
import type { Benchmark } from './run.js';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const loads = 5;
const rounds = 20;

function sgpods(home: string, args: readonly string[]): string {
  const result = spawnSync(process.execPath, [cli, '--home', home, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
    timeout: 600_000,
  });
  if (result.status !== 0)
    throw new Error(`sgpods ${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

function kubectl(home: string, args: readonly string[]): string {
  const result = spawnSync('kubectl', args, {
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: join(home, 'kubeconfig') },
  });
  if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** A SYN from `namespace` to `address:port` from `sourcePort`; answered or not, it is logged. */
function connectFrom(namespace: string, sourcePort: number, address: string, port: number): void {
  const script = `import socket
s = socket.socket()
s.settimeout(1)
s.bind(('', ${String(sourcePort)}))
try:
    s.connect(('${address}', ${String(port)}))
except OSError:
    pass
s.close()`;
  spawnSync('ip', ['netns', 'exec', namespace, 'python3', '-c', script]);
}

async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not drawn within ${String(ms)} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const stats = (name: string, samples: number[]): Record<string, number> => {
  const sorted = samples.slice().sort((a, b) => a - b);
  return { [`${name}_p50_ms`]: percentile(sorted, 50), [`${name}_p99_ms`]: percentile(sorted, 99) };
};

export const dashboardBenchmark: Benchmark = {
  name: 'dashboard',
  async run() {
    if (process.getuid?.() !== 0) {
      process.stdout.write('dashboard: needs root (the sandbox); skipped\n');
      return {};
    }
    const home = mkdtempSync(join(tmpdir(), 'sgpods-bench-dashboard-'));
    const browser = await launchHeadlessChromium().catch((error: unknown) => {
      rmSync(home, { recursive: true, force: true });
      throw error;
    });
    try {
      sgpods(home, ['demo']);
      const url = readFileSync(join(home, 'run', 'dashboard.url'), 'utf8').trim();
      const { page } = browser;
      const loaded: number[] = [];
      const mapDrawn: number[] = [];
      const firstFlow: number[] = [];
      for (let round = 0; round < loads; round++) {
        const started = performance.now();
        await page.goto(url, { waitUntil: 'load' });
        loaded.push(performance.now() - started);
        await page.locator('[data-ref="rds/rds-eksworkshop"]').waitFor();
        mapDrawn.push(performance.now() - started);
        await page.locator('tr.flow').first().waitFor();
        firstFlow.push(performance.now() - started);
      }
      const uid = kubectl(home, [
        '-n',
        'sg-per-pod',
        'get',
        'pods',
        '-l',
        'app=green-pod',
        '-o',
        'jsonpath={.items[0].metadata.uid}',
      ]);
      const namespace = podNamespaceOf(kernelPrefix(home), uid);
      const topology = (await (await fetch(`${url}api/topology`)).json()) as {
        databases: { eni?: { addresses: string[] } }[];
      };
      const address = topology.databases[0]?.eni?.addresses[0] ?? '';
      // Read incrementally: re-reading the whole log every few ms would load the machine it measures.
      const tail = new FlowLogTail(flowLogPathOf(home), { lastBytes: 0 });
      const seenPorts = new Set<number>();
      const logged = (sourcePort: number) => {
        for (const { record } of tail.readNew()) seenPorts.add(record.sourcePort);
        return seenPorts.has(sourcePort);
      };
      const toLog: number[] = [];
      const toRow: number[] = [];
      const logToRow: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const sourcePort = 41_000 + round;
        // The page notes when the row is inserted (a MutationObserver, in the page's own clock,
        // which is this machine's): waiting through Playwright would add its polling interval.
        await page.evaluate(`window.drawnAt = new Promise((resolve) => {
          const found = () => document.querySelector('tr.flow[data-source-port="${String(sourcePort)}"]');
          const observer = new MutationObserver(() => {
            if (!found()) return;
            observer.disconnect();
            resolve(Date.now());
          });
          observer.observe(document.body, { childList: true, subtree: true });
        }); undefined`);
        const started = Date.now();
        connectFrom(namespace, sourcePort, address, 5432);
        await until(() => logged(sourcePort), 20_000, 5);
        const inLog = Date.now();
        const onPage = Number(await withDeadline(page.evaluate('window.drawnAt'), 20_000));
        toLog.push(inLog - started);
        toRow.push(onPage - started);
        logToRow.push(Math.max(0, onPage - inLog));
      }
      const median = (samples: number[]) =>
        percentile(
          samples.slice().sort((a, b) => a - b),
          50,
        );
      return {
        dashboard_page_load_p50_ms: median(loaded),
        dashboard_map_drawn_p50_ms: median(mapDrawn),
        dashboard_first_flow_row_p50_ms: median(firstFlow),
        ...stats('dashboard_flow_to_log', toLog),
        ...stats('dashboard_flow_to_row', toRow),
        ...stats('dashboard_log_to_row', logToRow),
      };
    } finally {
      await browser.close();
      spawnSync(process.execPath, [cli, '--home', home, 'down', '--purge'], { stdio: 'ignore' });
      rmSync(home, { recursive: true, force: true });
    }
  },
};
