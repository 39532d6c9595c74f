/**
 * A pass run again and again (the agent's reconcilers): the next one is scheduled when the last
 * has ended, after the delay the pass asks for; a failed pass is reported and retried later.
 */
export class PeriodicTask {
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly pass: () => Promise<number>,
    private readonly onError: (error: unknown) => void,
    private readonly retryMs: number,
  ) {}

  start(): void {
    this.#schedule(0);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.pass().then(
        (nextMs) => {
          this.#schedule(nextMs);
        },
        (error: unknown) => {
          this.onError(error);
          this.#schedule(this.retryMs);
        },
      );
    }, delayMs);
  }
}
