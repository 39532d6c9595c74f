/**
 * Starts and supervises the VPC's link-local services process inside the router namespace
 * (`ip netns exec <router> sgpods vpc-services`): gives the router its service addresses,
 * waits until the process serves, restarts it if it dies, and stops it with the cloud.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ipBatch } from '../../../adapters/netns/netns.js';
import { stopRegisteredProcess } from '../../../adapters/process/pid-file.js';
import { linkLocalAddressesOf } from './vpc-services.js';

/** The name the services process registers under `<home>/run`. */
export const vpcServicesProcessName = 'vpc-services';

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

export interface VpcServicesProcessOptions {
  readonly home: string;
  readonly namespace: string;
  readonly vpcCidr: string;
  readonly onError?: (error: unknown) => void;
  readonly readyTimeoutMs?: number;
}

export class VpcServicesProcess {
  #child: ChildProcess | undefined;
  #stopping = false;
  #restartTimer: NodeJS.Timeout | undefined;
  /** Restarts so far (a crash loop backs off). */
  restarts = 0;

  private constructor(private readonly options: VpcServicesProcessOptions) {}

  static async start(options: VpcServicesProcessOptions): Promise<VpcServicesProcess> {
    await ipBatch(
      options.namespace,
      linkLocalAddressesOf(options.vpcCidr).map((address) => `addr replace ${address}/32 dev lo`),
    );
    // One left behind by a cloud that was killed would hold the service ports.
    await stopRegisteredProcess(options.home, vpcServicesProcessName, 5000);
    const process = new VpcServicesProcess(options);
    await process.#spawn();
    return process;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  #spawn(): Promise<void> {
    const { home, namespace } = this.options;
    const logs = join(home, 'logs');
    mkdirSync(logs, { recursive: true });
    const log = openSync(join(logs, 'vpc-services.log'), 'a');
    const child = spawn(
      'ip',
      ['netns', 'exec', namespace, ...cliCommand(), '--home', home, 'vpc-services'],
      // Its stdin is a pipe from us: when this process dies, the services see EOF and stop.
      { stdio: ['pipe', 'pipe', log] },
    );
    closeSync(log);
    this.#child = child;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error('the VPC services process did not start in time'));
      }, this.options.readyTimeoutMs ?? 30_000);
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        if (line.trim() === 'ready') {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(
          new Error(
            `the VPC services process exited (${code ?? 'signal'}); see logs/vpc-services.log`,
          ),
        );
      });
    });
    child.once('exit', () => {
      if (this.#stopping || this.#child !== child) return;
      this.options.onError?.(new Error('the VPC services process died; restarting it'));
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
