/**
 * Drives test/support/netns-probe.py inside a namespace: one long-lived agent per namespace,
 * requests as JSON lines. Waits are deadlines, never sleeps.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const agentPath = fileURLToPath(new URL('netns-probe.py', import.meta.url));

type Reply = Record<string, unknown> & { id: number };

export class NetnsProbe {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting = new Map<number, (reply: Reply) => void>();
  #nextId = 1;
  readonly ready: Promise<void>;

  /**
   * `command` runs the agent somewhere else than `ip netns exec <namespace>`: inside an instance
   * through `sgpods exec`, say (`namespace` then only labels the probe).
   */
  constructor(
    readonly namespace: string,
    command: readonly string[] = ['ip', 'netns', 'exec', namespace],
  ) {
    const [program = 'ip', ...args] = command;
    this.#child = spawn(program, [...args, 'python3', '-u', agentPath], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let markReady: () => void = () => undefined;
    this.ready = new Promise((resolve) => {
      markReady = resolve;
    });
    this.#waiting.set(0, () => {
      markReady();
    });
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      const reply = JSON.parse(line) as Reply;
      this.#waiting.get(reply.id)?.(reply);
      this.#waiting.delete(reply.id);
    });
    this.#child.stderr.on('data', (chunk: Buffer) =>
      process.stderr.write(`[probe ${namespace}] ${chunk.toString()}`),
    );
  }

  request(op: string, fields: Record<string, unknown>): Promise<Reply> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`probe ${this.namespace} ${op}: no reply in 30 s`)),
        30_000,
      );
      this.#waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.#child.stdin.write(`${JSON.stringify({ id, op, ...fields })}\n`);
    });
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGKILL');
    await exited;
  }
}

/** Polls `check` until it is true or the deadline passes. */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
