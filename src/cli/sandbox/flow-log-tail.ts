/**
 * Follows the sandbox's flow log (`<home>/flow-logs/flows.log`) as the cloud appends to it: each
 * call returns the complete record lines written since the previous one, keeping a partial last
 * line for the next call. Used by `sgpods flows --follow` and the dashboard's live flows.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { parseFlowRecord, type FlowRecord } from '../../core/flows/flow-records.js';

export interface FlowLine {
  readonly line: string;
  readonly record: FlowRecord;
}

export class FlowLogTail {
  #offset = 0;
  #partial = '';
  #skipFirstLine = false;

  /** `lastBytes`: start that far before the end of what the log holds (its recent records). */
  constructor(
    readonly path: string,
    options: { lastBytes?: number } = {},
  ) {
    if (options.lastBytes !== undefined && existsSync(path)) {
      this.#offset = Math.max(0, statSync(path).size - options.lastBytes);
      // Started inside a line (the byte before is not its predecessor's newline): its rest is not
      // a record.
      this.#skipFirstLine = this.#offset > 0 && this.#byteAt(this.#offset - 1) !== 0x0a;
    }
  }

  #byteAt(position: number): number | undefined {
    const byte = Buffer.alloc(1);
    const descriptor = openSync(this.path, 'r');
    try {
      return readSync(descriptor, byte, 0, 1, position) === 1 ? byte[0] : undefined;
    } finally {
      closeSync(descriptor);
    }
  }

  readNew(): FlowLine[] {
    if (!existsSync(this.path)) return [];
    const size = statSync(this.path).size;
    // A log that shrank was replaced (a purged home): start again from its beginning.
    if (size < this.#offset) {
      this.#offset = 0;
      this.#partial = '';
    }
    if (size === this.#offset) return [];
    const buffer = Buffer.alloc(size - this.#offset);
    const descriptor = openSync(this.path, 'r');
    try {
      readSync(descriptor, buffer, 0, buffer.length, this.#offset);
    } finally {
      closeSync(descriptor);
    }
    this.#offset = size;
    const lines = (this.#partial + buffer.toString('utf8')).split('\n');
    this.#partial = lines.pop() ?? '';
    if (this.#skipFirstLine && lines.length > 0) {
      lines.shift();
      this.#skipFirstLine = false;
    }
    return lines.flatMap((line) => {
      const record = parseFlowRecord(line);
      return record ? [{ line, record }] : [];
    });
  }
}
