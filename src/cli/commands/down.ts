/**
 * `sgpods down [--home DIR] [--purge]`: stops every process of the home and removes every kernel
 * object carrying its prefix; `--purge` also deletes the home's state. Never touches another
 * home's objects. Idempotent, and works when the processes already died.
 */
import { existsSync, rmSync } from 'node:fs';
import { sweepOwnedNamespaces } from '../../adapters/netns/sweep.js';
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
  const swept = await sweepOwnedNamespaces(prefix);
  if (options.purge && existsSync(options.home))
    rmSync(options.home, { recursive: true, force: true });
  process.stdout.write(
    `down: home ${options.home} (prefix ${prefix}): removed ${swept.namespaces.length} namespace(s), stopped ${registered + swept.processes} process(es)${options.purge ? ', purged state' : ''}\n`,
  );
  return exitCodes.success;
}
