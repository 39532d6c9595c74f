/**
 * What the root benchmarks share: a fresh home whose kernel objects are swept afterwards (skipped
 * with a line when not root), and polling a condition with a deadline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sweepOwnedNamespaces } from '../../src/adapters/netns/sweep.js';
import { kernelPrefix } from '../../src/core/kernel-names.js';

export async function inRootHome(
  name: string,
  needs: string,
  measure: (home: string) => Promise<Record<string, number>>,
): Promise<Record<string, number>> {
  if (process.getuid?.() !== 0) {
    process.stdout.write(`${name}: needs root (${needs}); skipped\n`);
    return {};
  }
  const home = mkdtempSync(join(tmpdir(), `sgpods-bench-${name}-`));
  try {
    return await measure(home);
  } finally {
    await sweepOwnedNamespaces(kernelPrefix(home));
    rmSync(home, { recursive: true, force: true });
  }
}

/** Polls `check` every `intervalMs` (a cloud sharing this process pays for each poll). */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 5,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('benchmark condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
