/**
 * A process of ours that must live inside one of the home's network namespaces (Node.js cannot
 * switch namespaces itself): started with `ip netns exec <ns> sgpods … <subcommand>`, considered
 * up once it prints `ready`, restarted with backoff if it dies, stopped with its parent. Its
 * stdin is a pipe from the parent, so it stops on EOF even when the parent is killed with -9.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stopRegisteredProcess } from '../../../adapters/process/pid-file.js';

/** How to run this checkout's CLI: the built one, or the sources under tsx (tests). */
export function cliCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    return [
      process.execPath,
      '--import',
      'tsx',
      fileURLToPath(new URL('../../../cli/main.ts', import.meta.url)),
    ];
  }
  return [process.execPath, fileURLToPath(new URL('../../../cli/main.js', import.meta.url))];
}

export interface NamespaceProcessOptions {
  readonly home: string;
  readonly namespace: string;
  /** The name it registers under `<home>/run` and logs as (`<home>/logs/<name>.log`). */
  readonly name: string;
  /** The CLI arguments after `--home <home>`. */
  readonly args: readonly string[];
  readonly onError?: (error: unknown) => void;
  readonly readyTimeoutMs?: number;
}

export class NamespaceProcess {
  #child: ChildProcess | undefined;
  #stopping = false;
  #restartTimer: NodeJS.Timeout | undefined;
  /** Restarts so far (a crash loop backs off). */
  restarts = 0;

  private constructor(private readonly options: NamespaceProcessOptions) {}

  static async start(options: NamespaceProcessOptions): Promise<NamespaceProcess> {
    // One left behind by a parent that was killed would hold the ports.
    await stopRegisteredProcess(options.home, options.name, 5000);
    const started = new NamespaceProcess(options);
    await started.#spawn();
    return started;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  #spawn(): Promise<void> {
    const { home, namespace, name } = this.options;
    const logs = join(home, 'logs');
    mkdirSync(logs, { recursive: true });
    const log = openSync(join(logs, `${name}.log`), 'a');
    const child = spawn(
      'ip',
      ['netns', 'exec', namespace, ...cliCommand(), '--home', home, ...this.options.args],
      { stdio: ['pipe', 'pipe', log] },
    );
    closeSync(log);
    this.#child = child;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`the ${name} process did not start in time`));
      }, this.options.readyTimeoutMs ?? 30_000);
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        if (line.trim() === 'ready') {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the ${name} process exited (${code ?? 'signal'}); see logs/${name}.log`));
      });
    });
    child.once('exit', () => {
      if (this.#stopping || this.#child !== child) return;
      this.options.onError?.(new Error(`the ${name} process died; restarting it`));
      this.restarts += 1;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.restarts, 6));
      this.#restartTimer = setTimeout(() => {
        this.#spawn().catch((error: unknown) => this.options.onError?.(error));
      }, delay);
    });
    return ready;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
