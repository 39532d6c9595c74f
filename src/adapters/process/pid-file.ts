/**
 * The registry of processes a home started: `<home>/run/<name>.pid` holds the pid and the
 * process's start time (from /proc), so `sgpods down` stops exactly that process and never a
 * stranger that reused the pid.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PidRecord {
  readonly pid: number;
  readonly startTime: string;
}

/** Start time of a live process (a zombie has exited: it only waits for its parent). */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the parenthesised command name: state (3rd field) ... starttime (22nd).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

export function runDirectory(home: string): string {
  return join(home, 'run');
}

/** Records the calling process as `name` of the home. Returns the file written. */
export function writePidFile(home: string, name: string): string {
  mkdirSync(runDirectory(home), { recursive: true, mode: 0o755 });
  const path = join(runDirectory(home), `${name}.pid`);
  writeFileSync(path, `${process.pid} ${startTimeOf(process.pid) ?? ''}\n`);
  return path;
}

export function readPidFile(path: string): PidRecord | undefined {
  if (!existsSync(path)) return undefined;
  const [pid, startTime = ''] = readFileSync(path, 'utf8').trim().split(' ');
  const number = Number(pid);
  return Number.isInteger(number) && number > 1 ? { pid: number, startTime } : undefined;
}

/** True while the recorded process (not merely its pid) is alive. */
export function isRunning(record: PidRecord): boolean {
  const startTime = startTimeOf(record.pid);
  return startTime !== undefined && startTime === record.startTime;
}

async function waitUntilGone(record: PidRecord, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (!isRunning(record)) return true;
    await new Promise((done) => setTimeout(done, 25));
  }
  return !isRunning(record);
}

/**
 * Stops every process registered in the home: SIGTERM, then SIGKILL after `graceMs`. Removes the
 * pid files. Returns how many processes were still running.
 */
export async function stopRegisteredProcesses(home: string, graceMs = 10_000): Promise<number> {
  const directory = runDirectory(home);
  if (!existsSync(directory)) return 0;
  let stopped = 0;
  for (const file of readdirSync(directory).filter((name) => name.endsWith('.pid'))) {
    if (await stopRegisteredProcess(home, file.slice(0, -'.pid'.length), graceMs)) stopped += 1;
  }
  return stopped;
}

/** Stops the process registered as `name` (SIGTERM, then SIGKILL); true if it was running. */
export async function stopRegisteredProcess(
  home: string,
  name: string,
  graceMs = 10_000,
): Promise<boolean> {
  const path = join(runDirectory(home), `${name}.pid`);
  const record = readPidFile(path);
  let running = false;
  if (record && record.pid !== process.pid && isRunning(record)) {
    running = true;
    try {
      process.kill(record.pid, 'SIGTERM');
    } catch {
      // Gone between the check and the signal.
    }
    if (!(await waitUntilGone(record, graceMs))) {
      try {
        process.kill(record.pid, 'SIGKILL');
      } catch {
        // Gone.
      }
      await waitUntilGone(record, graceMs);
    }
  }
  rmSync(path, { force: true });
  return running;
}
