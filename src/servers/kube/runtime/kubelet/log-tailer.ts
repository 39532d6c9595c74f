/**
 * Turns a container's raw stdout/stderr files into the CRI log a kubelet writes
 * (`<RFC 3339 nano time> <stream> F <line>`), which `pods/log` serves. One timer polls every
 * followed file; how far each was read is kept next to it, so a restarted kubelet continues
 * where the last one stopped instead of repeating or losing lines.
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';

interface Followed {
  readonly rawPath: string;
  readonly stream: 'stdout' | 'stderr';
  readonly logPath: string;
  offset: number;
  partial: string;
}

function criTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}.${String(date.getUTCMilliseconds()).padStart(3, '0')}000000Z`;
}

export class LogTailer {
  readonly #followed = new Map<string, Followed>();
  #timer: NodeJS.Timeout | undefined;

  constructor(readonly intervalMs = 200) {}

  /** Follows `rawPath`, appending CRI lines of `stream` to `logPath`. */
  follow(rawPath: string, stream: 'stdout' | 'stderr', logPath: string): void {
    if (this.#followed.has(rawPath)) return;
    mkdirSync(dirname(logPath), { recursive: true });
    if (!existsSync(logPath)) writeFileSync(logPath, '');
    let offset = 0;
    try {
      offset = Number(readFileSync(`${rawPath}.offset`, 'utf8')) || 0;
    } catch {
      offset = 0;
    }
    this.#followed.set(rawPath, { rawPath, stream, logPath, offset, partial: '' });
    this.#timer ??= setInterval(() => {
      this.flushAll();
    }, this.intervalMs);
    this.#timer.unref();
  }

  /** Reads what is new in `rawPath` now; with `final`, an unterminated last line too. */
  flush(rawPath: string, final = false): void {
    const followed = this.#followed.get(rawPath);
    if (!followed) return;
    let size = 0;
    try {
      size = statSync(rawPath).size;
    } catch {
      return;
    }
    if (size > followed.offset) {
      const buffer = Buffer.alloc(size - followed.offset);
      const fd = openSync(rawPath, 'r');
      try {
        readSync(fd, buffer, 0, buffer.length, followed.offset);
      } finally {
        closeSync(fd);
      }
      followed.offset = size;
      followed.partial += buffer.toString('utf8');
      writeFileSync(`${rawPath}.offset`, String(size));
    }
    const lines = followed.partial.split('\n');
    followed.partial = lines.pop() ?? '';
    if (final && followed.partial) {
      lines.push(followed.partial);
      followed.partial = '';
    }
    if (lines.length === 0) return;
    const time = criTime(new Date());
    appendFileSync(
      followed.logPath,
      lines.map((line) => `${time} ${followed.stream} F ${line}\n`).join(''),
    );
  }

  flushAll(): void {
    for (const rawPath of this.#followed.keys()) this.flush(rawPath);
  }

  /** Reads the rest (the container ended) and stops following. */
  finish(rawPath: string): void {
    this.flush(rawPath, true);
    this.#followed.delete(rawPath);
  }

  /** Stops following without reading (the pod is gone). */
  forget(rawPath: string): void {
    this.#followed.delete(rawPath);
  }

  close(): void {
    this.flushAll();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
