/**
 * `sgpods down [--home DIR] [--purge]`: stops every process of the home and removes every kernel
 * object carrying its prefix; `--purge` also deletes the home's state. Never touches another
 * home's objects. Idempotent, and works when the processes already died.
 */
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sweepOwnedNamespaces } from '../../adapters/netns/sweep.js';
import { PostgresCluster } from '../../adapters/postgres/postgres-cluster.js';
import { stopRegisteredProcesses } from '../../adapters/process/pid-file.js';
import { kernelPrefix } from '../../core/kernel-names.js';
import { containerLaunchersOf } from '../../servers/kube/runtime/kubelet/container-process.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';

export interface DownOptions {
  readonly home: string;
  readonly purge?: boolean;
}

export async function runDown(options: DownOptions): Promise<ExitCode> {
  const prefix = kernelPrefix(options.home);
  const registered = await stopRegisteredProcesses(options.home);
  const databases = await stopDatabaseServers(options.home);
  const launchers = killContainerLaunchers(options.home);
  const swept = await sweepOwnedNamespaces(prefix);
  removeMemoryCgroups(prefix);
  if (options.purge && existsSync(options.home))
    rmSync(options.home, { recursive: true, force: true });
  process.stdout.write(
    `down: home ${options.home} (prefix ${prefix}): removed ${swept.namespaces.length} namespace(s), stopped ${registered + databases + launchers + swept.processes} process(es)${options.purge ? ', purged state' : ''}\n`,
  );
  return exitCodes.success;
}

/**
 * The PostgreSQL servers of the home's RDS instances get a fast shutdown (a clean stop, so the
 * data is consistent for the next start) before their namespaces are swept.
 */
async function stopDatabaseServers(home: string): Promise<number> {
  const directory = join(home, 'rds');
  if (!existsSync(directory)) return 0;
  let stopped = 0;
  for (const name of readdirSync(directory)) {
    const cluster = new PostgresCluster(join(directory, name));
    if (cluster.runningPid() === undefined) continue;
    await cluster.stop();
    stopped += 1;
  }
  return stopped;
}

/** The cgroup v1 memory directories of the home's containers (empty once their processes died). */
function removeMemoryCgroups(prefix: string): void {
  const directory = join('/sys/fs/cgroup/memory/sgpods', prefix);
  if (!existsSync(directory)) return;
  for (const name of readdirSync(directory)) {
    try {
      rmdirSync(join(directory, name));
    } catch {
      // Still in use.
    }
  }
  for (const emptied of [directory, dirname(directory)]) {
    try {
      rmdirSync(emptied);
    } catch {
      // Still in use (another home's containers).
    }
  }
}

/** The host-side launchers of the home's containers (they outlive a killed runtime). */
function killContainerLaunchers(home: string): number {
  let killed = 0;
  for (const pid of containerLaunchersOf(home)) {
    try {
      process.kill(-pid, 'SIGKILL');
      killed += 1;
    } catch {
      // Gone.
    }
  }
  return killed;
}
