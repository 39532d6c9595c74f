/**
 * The sandbox's long-running parts (`sgpods cloud`, `sgpods kube --sandbox`) started in the
 * background by `sgpods up`: detached from the terminal, output appended to
 * `<home>/logs/<name>.log`, registered by their own pid files. Waiting on one fails fast with
 * the tail of its log when it exits instead of becoming ready.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRunning, readPidFile, runDirectory } from '../../adapters/process/pid-file.js';
import { cliCommand } from '../../servers/cloud/dataplane/namespace-process.js';

export function logPathOf(home: string, name: string): string {
  return join(home, 'logs', `${name}.log`);
}

/** True while the home's process `name` (by its pid file) runs. */
export function isComponentRunning(home: string, name: string): boolean {
  const record = readPidFile(join(runDirectory(home), `${name}.pid`));
  return record !== undefined && isRunning(record);
}

export interface BackgroundProcess {
  readonly name: string;
  /** Set once the process has exited (it should not before `sgpods down`). */
  exited(): boolean;
}

export function startInBackground(
  home: string,
  name: string,
  args: readonly string[],
): BackgroundProcess {
  mkdirSync(join(home, 'logs'), { recursive: true });
  const log = openSync(logPathOf(home, name), 'a');
  const [command = process.execPath, ...rest] = cliCommand();
  const child = spawn(command, [...rest, '--home', home, ...args], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  let done = false;
  child.once('exit', () => {
    done = true;
  });
  child.unref();
  return { name, exited: () => done };
}

function logTail(home: string, name: string, lines = 12): string {
  const path = logPathOf(home, name);
  if (!existsSync(path)) return '';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** Waits until `ready()`; throws with the log's tail if the process exits or time runs out. */
export async function waitUntilReady(
  home: string,
  process: BackgroundProcess,
  ready: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ready()) return;
    if (process.exited()) {
      throw new Error(
        `${process.name} exited while starting; the end of ${logPathOf(home, process.name)}:\n${logTail(home, process.name)}`,
      );
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${process.name} was not ready within ${String(timeoutMs / 1000)} s; see ${logPathOf(home, process.name)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
