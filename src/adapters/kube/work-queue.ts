/**
 * A controller's work queue, as client-go's: a key queued while it is being worked on is worked
 * on again afterwards (never twice at once), a failure is retried with per-key exponential
 * backoff, and `idle()` tells tests and benchmarks when nothing is left.
 */
export interface WorkQueueOptions {
  readonly concurrency?: number;
  readonly onError?: (error: unknown, key: string) => void;
  readonly maxBackoffMs?: number;
}

export class WorkQueue {
  readonly #queued = new Set<string>();
  readonly #active = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #running = 0;
  #closed = false;
  #idleWaiters: (() => void)[] = [];

  constructor(
    readonly work: (key: string) => Promise<void>,
    readonly options: WorkQueueOptions = {},
  ) {}

  add(key: string): void {
    if (this.#closed) return;
    if (this.#active.has(key)) {
      this.#dirty.add(key);
      return;
    }
    this.#queued.add(key);
    this.#pump();
  }

  /** Queues `key` after `delayMs` (a later call replaces an earlier one). */
  addAfter(key: string, delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timers.get(key));
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        this.add(key);
      }, delayMs),
    );
  }

  get pending(): number {
    return this.#queued.size + this.#active.size + this.#timers.size;
  }

  /** Resolves when nothing is queued or running (scheduled retries do not count). */
  idle(): Promise<void> {
    if (this.#queued.size === 0 && this.#active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#queued.clear();
  }

  #pump(): void {
    const concurrency = this.options.concurrency ?? 4;
    while (this.#running < concurrency && this.#queued.size > 0) {
      const key = this.#queued.values().next().value as string;
      this.#queued.delete(key);
      this.#active.add(key);
      this.#running += 1;
      void this.#process(key);
    }
    if (this.#queued.size === 0 && this.#active.size === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  async #process(key: string): Promise<void> {
    try {
      await this.work(key);
      this.#failures.delete(key);
    } catch (error) {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      this.options.onError?.(error, key);
      this.addAfter(key, Math.min(10 * 2 ** failures, this.options.maxBackoffMs ?? 5_000));
    } finally {
      this.#active.delete(key);
      this.#running -= 1;
      if (this.#dirty.delete(key)) this.#queued.add(key);
      this.#pump();
    }
  }
}
