/**
 * `sgpods demo` end to end (root; the built CLI, `npm run build` first): on a fresh home, the
 * first run (starting the sandbox, the node group, the groups, the RDS instance, the CNI change,
 * the Deployments, until green printed the rows and red the timeout), then a second run on the
 * running sandbox that only finds everything in place (the floor: `up` and the checks), then
 * `down --purge`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Benchmark } from './run.js';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

function timed(home: string, args: readonly string[]): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, [cli, '--home', home, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
    timeout: 600_000,
  });
  if (result.status !== 0)
    throw new Error(`sgpods ${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
  return performance.now() - started;
}

export const demoBenchmark: Benchmark = {
  name: 'demo',
  run() {
    const home = mkdtempSync(join(tmpdir(), 'sgpods-bench-'));
    try {
      const first = timed(home, ['demo']);
      const again = timed(home, ['demo']);
      return { demo_first_run_s: first / 1000, demo_second_run_s: again / 1000 };
    } finally {
      spawnSync(process.execPath, [cli, '--home', home, 'down', '--purge'], { stdio: 'ignore' });
      rmSync(home, { recursive: true, force: true });
    }
  },
};
