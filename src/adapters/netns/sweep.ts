/**
 * Removing a home's kernel objects: every network namespace whose name carries the home's
 * prefix, after killing the processes inside it (a process keeps a deleted namespace alive),
 * and its /etc/netns/<name> directory. Nothing without the prefix is touched.
 */
import { existsSync, rmSync } from 'node:fs';
import { runCommand } from '../exec/run-command.js';
import { deleteNamespace, listNamespaces } from './netns.js';

async function pidsIn(namespace: string): Promise<number[]> {
  const { stdout } = await runCommand(['ip', 'netns', 'pids', namespace], { okExitCodes: [0, 1] });
  return stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 1 && pid !== process.pid);
}

export interface SweepResult {
  readonly namespaces: readonly string[];
  readonly processes: number;
}

/** Removes every namespace of the prefix and what runs in it. Idempotent. */
export async function sweepOwnedNamespaces(prefix: string): Promise<SweepResult> {
  const owned = (await listNamespaces()).filter((name) => name.startsWith(prefix));
  let processes = 0;
  for (const namespace of owned) {
    for (const pid of await pidsIn(namespace)) {
      try {
        process.kill(pid, 'SIGKILL');
        processes += 1;
      } catch {
        // Already gone.
      }
    }
    await deleteNamespace(namespace);
    const etc = `/etc/netns/${namespace}`;
    if (existsSync(etc)) rmSync(etc, { recursive: true, force: true });
  }
  return { namespaces: owned, processes };
}
