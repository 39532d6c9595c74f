/** Waits on a condition with a deadline (never a fixed sleep); fails naming what it waited for. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  options: {
    timeoutMs: number;
    what: string;
    intervalMs?: number;
    /** What was last seen, added to the failure so a timeout can be diagnosed from CI's log. */
    lastSeen?: () => string;
  },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) {
      const seen = options.lastSeen ? ` (last seen: ${options.lastSeen()})` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 25));
  }
}
