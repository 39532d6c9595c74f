/**
 * VPC Flow Logs records, version 2 (the default format): `version account-id interface-id srcaddr
 * dstaddr srcport dstport protocol packets bytes start end action log-status`, one line per flow
 * and interface and capture window. Logged packets are folded into records per window: same
 * interface, addresses, ports, protocol and action → one record counting packets and bytes,
 * `start`/`end` the first and last packet's second.
 */
export const flowLogHeader =
  'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status';

export type FlowAction = 'ACCEPT' | 'REJECT';

export interface FlowEvent {
  readonly interfaceId: string;
  readonly action: FlowAction;
  readonly source: string;
  readonly destination: string;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly protocol: number;
  readonly bytes: number;
  /** Seconds since the epoch. */
  readonly time: number;
}

export interface FlowRecord {
  readonly version: 2;
  readonly accountId: string;
  readonly interfaceId: string;
  readonly source: string;
  readonly destination: string;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly protocol: number;
  readonly packets: number;
  readonly bytes: number;
  readonly start: number;
  readonly end: number;
  readonly action: FlowAction;
  readonly logStatus: 'OK';
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class FlowAggregator {
  readonly #open = new Map<string, Mutable<FlowRecord>>();

  constructor(private readonly accountId: string) {}

  add(event: FlowEvent): void {
    const key = [
      event.interfaceId,
      event.source,
      event.destination,
      event.sourcePort,
      event.destinationPort,
      event.protocol,
      event.action,
    ].join(' ');
    const second = Math.floor(event.time);
    const record = this.#open.get(key);
    if (record) {
      record.packets += 1;
      record.bytes += event.bytes;
      record.end = Math.max(record.end, second);
      record.start = Math.min(record.start, second);
      return;
    }
    this.#open.set(key, {
      version: 2,
      accountId: this.accountId,
      interfaceId: event.interfaceId,
      source: event.source,
      destination: event.destination,
      sourcePort: event.sourcePort,
      destinationPort: event.destinationPort,
      protocol: event.protocol,
      packets: 1,
      bytes: event.bytes,
      start: second,
      end: second,
      action: event.action,
      logStatus: 'OK',
    });
  }

  /** The records of the window that ends now, oldest first; the next window starts empty. */
  flush(): FlowRecord[] {
    const records = [...this.#open.values()].sort((a, b) => a.start - b.start);
    this.#open.clear();
    return records;
  }
}

export function formatFlowRecord(record: FlowRecord): string {
  return [
    record.version,
    record.accountId,
    record.interfaceId,
    record.source,
    record.destination,
    record.sourcePort,
    record.destinationPort,
    record.protocol,
    record.packets,
    record.bytes,
    record.start,
    record.end,
    record.action,
    record.logStatus,
  ].join(' ');
}

/** A record line back; undefined for anything else (the header, a partial line). */
export function parseFlowRecord(line: string): FlowRecord | undefined {
  const fields = line.trim().split(' ');
  if (fields.length !== 14 || fields[0] !== '2') return undefined;
  const text = (index: number) => fields[index] ?? '';
  const numbers = fields.slice(5, 12).map(Number);
  if (numbers.some((value) => !Number.isInteger(value))) return undefined;
  const number = (index: number) => numbers[index - 5] ?? 0;
  const action = text(12);
  if (action !== 'ACCEPT' && action !== 'REJECT') return undefined;
  return {
    version: 2,
    accountId: text(1),
    interfaceId: text(2),
    source: text(3),
    destination: text(4),
    sourcePort: number(5),
    destinationPort: number(6),
    protocol: number(7),
    packets: number(8),
    bytes: number(9),
    start: number(10),
    end: number(11),
    action,
    logStatus: 'OK',
  };
}
