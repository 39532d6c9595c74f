/**
 * How a long-running command waits for its end: SIGTERM or SIGINT, and for processes another
 * process supervises through a pipe, EOF on stdin (the parent is gone, even after kill -9).
 */
export async function untilStopped(options: { stdinEof?: boolean } = {}): Promise<void> {
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
    if (options.stdinEof) {
      process.stdin.once('end', resolve);
      process.stdin.once('error', resolve);
      process.stdin.resume();
    }
  });
  // Our stdin pipe would keep the process alive after a signal.
  if (options.stdinEof) process.stdin.destroy();
}
