/**
 * `npm run bench [-- <name>...]`: runs the named benchmarks (all by default), prints a table and
 * merges them into bench/results.json (metric name with unit → value).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { branchEnisBenchmark } from './branch-enis.bench.js';
import { cloudBenchmark } from './cloud.bench.js';
import { cniAddBenchmark } from './cni-add.bench.js';
import { dashboardBenchmark } from './dashboard.bench.js';
import { dataplaneBenchmark } from './dataplane.bench.js';
import { demoBenchmark } from './demo.bench.js';
import { evaluatorBenchmark } from './evaluator.bench.js';
import { explainLiveBenchmark } from './explain-live.bench.js';
import { flowsBenchmark } from './flows.bench.js';
import { instancesBenchmark } from './instances.bench.js';
import { kubeBenchmark } from './kube.bench.js';
import { rdsBenchmark } from './rds.bench.js';
import { runtimeBenchmark } from './runtime.bench.js';
import { sandboxBenchmark } from './sandbox.bench.js';
import { webhookBenchmark } from './webhook.bench.js';

export interface Benchmark {
  readonly name: string;
  run(): Record<string, number> | Promise<Record<string, number>>;
}

const benchmarks: readonly Benchmark[] = [
  evaluatorBenchmark,
  explainLiveBenchmark,
  flowsBenchmark,
  dataplaneBenchmark,
  cloudBenchmark,
  instancesBenchmark,
  rdsBenchmark,
  kubeBenchmark,
  runtimeBenchmark,
  sandboxBenchmark,
  webhookBenchmark,
  branchEnisBenchmark,
  cniAddBenchmark,
  demoBenchmark,
  dashboardBenchmark,
];

async function main(names: readonly string[]): Promise<number> {
  const unknown = names.filter((name) => !benchmarks.some((b) => b.name === name));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown benchmark(s): ${unknown.join(', ')}; known: ${benchmarks.map((b) => b.name).join(', ')}\n`,
    );
    return 2;
  }
  const selected =
    names.length === 0 ? benchmarks : benchmarks.filter((b) => names.includes(b.name));
  const results: Record<string, number> = {};
  for (const benchmark of selected) {
    process.stdout.write(`running ${benchmark.name}…\n`);
    Object.assign(results, await benchmark.run());
  }
  const width = Math.max(...Object.keys(results).map((key) => key.length));
  for (const [metric, value] of Object.entries(results)) {
    const shown = Number.isInteger(value) ? String(value) : value.toFixed(4);
    process.stdout.write(`${metric.padEnd(width)}  ${shown.padStart(12)}\n`);
  }
  // Earlier runs' metrics stay; this run's replace theirs (a partial run keeps the rest).
  const path = fileURLToPath(new URL('results.json', import.meta.url));
  const kept = existsSync(path)
    ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, number>)
    : {};
  const merged = Object.fromEntries(
    Object.entries({ ...kept, ...results }).sort(([a], [b]) => a.localeCompare(b)),
  );
  writeFileSync(path, `${JSON.stringify(merged, null, 2)}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
