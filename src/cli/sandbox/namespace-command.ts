/**
 * Runs a command in a network namespace with `ip netns exec`, which also mounts the namespace's
 * `/etc/netns/<name>/` files (its resolv.conf) over /etc. Stdin, stdout and stderr are passed
 * through; SIGINT, SIGTERM and SIGHUP are forwarded; the result is the command's exit status
 * (128 + n when signal n ended it).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { SgpodsError } from '../../core/errors.js';

/** The command could not be started (not found, not executable). */
export class CommandStartError extends SgpodsError {
  constructor(message: string) {
    super('SGPODS_COMMAND_FAILED', message);
  }
}

export function runInNetworkNamespace(
  namespace: string,
  command: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const child = spawn('ip', ['netns', 'exec', namespace, ...command], { stdio: 'inherit', env });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.on(signal, forward);
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      for (const signal of signals) process.off(signal, forward);
      reject(new CommandStartError(`cannot run ${command[0] ?? ''}: ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      for (const signal of signals) process.off(signal, forward);
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}
