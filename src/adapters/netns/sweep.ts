/**
 * Removing a home's kernel objects: every network namespace whose name carries the home's
 * prefix, after killing the processes inside it (a process keeps a deleted namespace alive),
 * and its /etc/netns/<name> directory. Nothing without the prefix is touched.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
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

/** Kills every process inside a namespace (they would keep a deleted namespace alive). */
export async function killProcessesIn(namespace: string): Promise<number> {
  let killed = 0;
  for (const pid of await pidsIn(namespace)) {
    try {
      process.kill(pid, 'SIGKILL');
      killed += 1;
    } catch {
      // Already gone.
    }
  }
  return killed;
}

/** Removes a namespace, what runs in it, and its /etc/netns/<name> files. Idempotent. */
export async function removeNamespace(namespace: string): Promise<number> {
  const killed = await killProcessesIn(namespace);
  await deleteNamespace(namespace);
  const etc = `/etc/netns/${namespace}`;
  if (existsSync(etc)) rmSync(etc, { recursive: true, force: true });
  return killed;
}

export interface SweepResult {
  readonly namespaces: readonly string[];
  readonly processes: number;
}

/** Removes every namespace of the prefix and what runs in it. Idempotent. */
export async function sweepOwnedNamespaces(prefix: string): Promise<SweepResult> {
  const owned = (await listNamespaces()).filter((name) => name.startsWith(prefix));
  let processes = 0;
  for (const namespace of owned) processes += await removeNamespace(namespace);
  // Files of a namespace whose removal was interrupted.
  if (existsSync('/etc/netns')) {
    for (const name of readdirSync('/etc/netns')) {
      if (name.startsWith(prefix)) rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
    }
  }
  return { namespaces: owned, processes };
}
