/**
 * The VPC's flow logs: the router logs every packet a security group drops and the first
 * packet of every accepted flow to NFLOG (`flowLogGroup`); a `tcpdump -i nflog:<group>` in the
 * router's namespace hands them over as pcap, and each capture window (1 s) becomes VPC Flow
 * Logs v2 records appended to `<home>/flow-logs/flows.log`. A drop is recorded as REJECT at the
 * ENI whose groups dropped it (the in-port for egress, the out-port for ingress); an accepted
 * flow as ACCEPT at both ENIs it joins. Packets and bytes count the logged packets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCommand } from '../../../adapters/exec/run-command.js';
import { NflogPcapReader, type LoggedPacket } from '../../../adapters/flows/nflog-pcap.js';
import { flowLogGroup, flowLogPrefixes } from '../../../core/dataplane/compile-ruleset.js';
import {
  FlowAggregator,
  flowLogHeader,
  formatFlowRecord,
  type FlowEvent,
} from '../../../core/flows/flow-records.js';

export function flowLogPathOf(home: string): string {
  return join(home, 'flow-logs', 'flows.log');
}

export interface FlowLogCollectorOptions {
  readonly home: string;
  readonly namespace: string;
  readonly accountId: string;
  /** The ENI behind a router port name. */
  readonly interfaceOfPort: (portName: string) => string | undefined;
  readonly onError: (error: unknown) => void;
  readonly windowMs?: number;
}

export class FlowLogCollector {
  readonly #flows: FlowAggregator;
  #reader = new NflogPcapReader();
  #closed = false;
  #restart: NodeJS.Timeout | undefined;
  readonly #ifnames = new Map<number, string>();
  readonly #path: string;
  #child: ChildProcess | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ifnamesRead = 0;

  private constructor(private readonly options: FlowLogCollectorOptions) {
    this.#flows = new FlowAggregator(options.accountId);
    this.#path = flowLogPathOf(options.home);
  }

  /** Starts capturing; undefined (and a reason reported) when tcpdump is not installed. */
  static async start(options: FlowLogCollectorOptions): Promise<FlowLogCollector | undefined> {
    if (!existsSync('/usr/bin/tcpdump') && !existsSync('/usr/sbin/tcpdump')) {
      options.onError(new Error('flow logs are off: tcpdump is not installed'));
      return undefined;
    }
    // A reader left by a killed cloud still holds the NFLOG group (one listener per group).
    const pids = await runCommand(['ip', 'netns', 'pids', options.namespace], {
      okExitCodes: [0, 1],
    });
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'tcpdump') {
          process.kill(Number(pid), 'SIGKILL');
        }
      } catch {
        // Gone meanwhile.
      }
    }
    const collector = new FlowLogCollector(options);
    collector.#open();
    return collector;
  }

  #capture(): void {
    // No `-s`: a small snap length also shrinks libpcap's NFLOG buffer, and records of packets
    // logged together (a DNS answer and the connection it opens) were lost.
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.options.namespace,
        'tcpdump',
        '-i',
        `nflog:${flowLogGroup}`,
        '-U',
        '-w',
        '-',
        '-q',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    child.stdout.on('data', (chunk: Buffer) => {
      try {
        for (const packet of this.#reader.push(chunk)) void this.#take(packet);
      } catch (error) {
        this.options.onError(error);
        child.kill();
      }
    });
    child.once('error', (error) => {
      this.options.onError(error);
    });
    // tcpdump ends only when it cannot read (the group still held, the namespace gone): retry.
    child.once('exit', () => {
      if (this.#closed) return;
      this.options.onError(new Error('flow logs: tcpdump exited; restarting it in 1 s'));
      this.#restart = setTimeout(() => {
        this.#reader = new NflogPcapReader();
        this.#capture();
      }, 1000);
    });
    this.#child = child;
  }

  #open(): void {
    mkdirSync(dirname(this.#path), { recursive: true });
    if (!existsSync(this.#path)) writeFileSync(this.#path, `${flowLogHeader}\n`);
    this.#capture();
    this.#timer = setInterval(() => {
      this.#flush();
    }, this.options.windowMs ?? 1000);
  }

  async #portName(ifindex: number | undefined): Promise<string | undefined> {
    if (ifindex === undefined) return undefined;
    const known = this.#ifnames.get(ifindex);
    if (known !== undefined || Date.now() - this.#ifnamesRead < 1000) return known;
    this.#ifnamesRead = Date.now();
    const listing = await runCommand(['ip', '-n', this.options.namespace, '-o', 'link', 'show']);
    this.#ifnames.clear();
    for (const line of listing.stdout.split('\n')) {
      const match = /^(\d+): ([^:@\s]+)/.exec(line);
      if (match?.[1] && match[2]) this.#ifnames.set(Number(match[1]), match[2]);
    }
    return this.#ifnames.get(ifindex);
  }

  async #eniAt(ifindex: number | undefined): Promise<string | undefined> {
    const name = await this.#portName(ifindex);
    return name === undefined ? undefined : this.options.interfaceOfPort(name);
  }

  async #take(packet: LoggedPacket): Promise<void> {
    const event = (interfaceId: string, action: FlowEvent['action']): FlowEvent => ({
      interfaceId,
      action,
      source: packet.source,
      destination: packet.destination,
      sourcePort: packet.sourcePort,
      destinationPort: packet.destinationPort,
      protocol: packet.protocol,
      bytes: packet.bytes,
      time: packet.time,
    });
    try {
      if (packet.prefix === flowLogPrefixes.accept) {
        for (const ifindex of [packet.inIfindex, packet.outIfindex]) {
          const eni = await this.#eniAt(ifindex);
          if (eni) this.#flows.add(event(eni, 'ACCEPT'));
        }
        return;
      }
      const direction =
        packet.prefix === flowLogPrefixes.drop('egress')
          ? 'egress'
          : packet.prefix === flowLogPrefixes.drop('ingress')
            ? 'ingress'
            : undefined;
      if (!direction) return;
      const eni = await this.#eniAt(direction === 'egress' ? packet.inIfindex : packet.outIfindex);
      if (eni) this.#flows.add(event(eni, 'REJECT'));
    } catch (error) {
      this.options.onError(error);
    }
  }

  #flush(): void {
    const records = this.#flows.flush();
    if (records.length === 0) return;
    try {
      appendFileSync(this.#path, records.map((record) => `${formatFlowRecord(record)}\n`).join(''));
    } catch (error) {
      this.options.onError(error);
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#restart) clearTimeout(this.#restart);
    this.#child?.kill();
    this.#flush();
  }
}
