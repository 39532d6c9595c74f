/**
 * `sgpods down [--home DIR] [--purge]`: stops every process of the home and removes every kernel
 * object carrying its prefix; `--purge` also deletes the home's state. Never touches another
 * home's objects. Idempotent, and works when the processes already died.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sweepOwnedNamespaces } from '../../adapters/netns/sweep.js';
import { PostgresCluster } from '../../adapters/postgres/postgres-cluster.js';
import { stopRegisteredProcesses } from '../../adapters/process/pid-file.js';
import { kernelPrefix } from '../../core/kernel-names.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';

export interface DownOptions {
  readonly home: string;
  readonly purge?: boolean;
}

export async function runDown(options: DownOptions): Promise<ExitCode> {
  const prefix = kernelPrefix(options.home);
  const registered = await stopRegisteredProcesses(options.home);
  const databases = await stopDatabaseServers(options.home);
  const swept = await sweepOwnedNamespaces(prefix);
  if (options.purge && existsSync(options.home))
    rmSync(options.home, { recursive: true, force: true });
  process.stdout.write(
    `down: home ${options.home} (prefix ${prefix}): removed ${swept.namespaces.length} namespace(s), stopped ${registered + databases + swept.processes} process(es)${options.purge ? ', purged state' : ''}\n`,
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
