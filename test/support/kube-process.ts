/**
 * `sgpods kube` as a user runs it: a child process on a test home (nodes and pods are network
 * namespaces of the home's prefix), with the machine's kubectl pointed at it (its own
 * KUBECACHEDIR). `kill9()` and `start()` again exercise adoption; `down()` is `sgpods down`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, runCli } from './run-cli.js';
import { waitFor } from './wait-for.js';

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class KubeProcess {
  #child: ChildProcess | undefined;
  #output = '';

  constructor(
    readonly home: string,
    readonly args: readonly string[] = ['--nodes', '2'],
  ) {}

  get output(): string {
    return this.#output;
  }

  get kubeconfig(): string {
    return join(this.home, 'kubeconfig');
  }

  get exited(): boolean {
    const child = this.#child;
    return !child || child.exitCode !== null || child.signalCode !== null;
  }

  /** Starts the cluster and waits (with a deadline) until it serves. */
  async start(): Promise<void> {
    rmSync(this.kubeconfig, { force: true });
    this.#output = '';
    const child = spawn(process.execPath, [cliPath, '--home', this.home, 'kube', ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    this.#child = child;
    child.stdout.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    await waitFor(
      () => {
        if (this.exited) throw new Error(`sgpods kube exited early:\n${this.#output}`);
        return existsSync(this.kubeconfig) && this.#output.includes('serving');
      },
      { timeoutMs: 60_000, what: 'sgpods kube to serve' },
    );
  }

  kubectl(args: readonly string[], stdin?: string, timeoutMs = 120_000): Promise<KubectlResult> {
    return new Promise((resolve) => {
      const child = execFile(
        'kubectl',
        [...args],
        {
          env: {
            ...process.env,
            KUBECONFIG: this.kubeconfig,
            KUBECACHEDIR: join(this.home, 'kubectl-cache'),
          },
          timeout: timeoutMs,
        },
        (error, stdout, stderr) => {
          resolve({
            code: error ? (typeof error.code === 'number' ? error.code : -1) : 0,
            stdout,
            stderr,
          });
        },
      );
      child.stdin?.end(stdin);
    });
  }

  /** kubectl that must succeed; its trimmed stdout. */
  async kubectlOk(args: readonly string[], stdin?: string): Promise<string> {
    const result = await this.kubectl(args, stdin);
    if (result.code !== 0)
      throw new Error(`kubectl ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
    return result.stdout.trim();
  }

  /** A long-running kubectl (`logs -f`); the caller kills it. */
  spawnKubectl(args: readonly string[]): ChildProcess {
    return spawn('kubectl', [...args], {
      env: {
        ...process.env,
        KUBECONFIG: this.kubeconfig,
        KUBECACHEDIR: join(this.home, 'kubectl-cache'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** A JSONPath of an object (`kubectl get … -o jsonpath=…`), '' when it fails. */
  async jsonpath(args: readonly string[], path: string): Promise<string> {
    const result = await this.kubectl(['get', ...args, '-o', `jsonpath=${path}`]);
    return result.code === 0 ? result.stdout : '';
  }

  /** SIGTERM and wait for the exit. */
  async stop(): Promise<void> {
    if (!this.exited) this.#child?.kill('SIGTERM');
    await waitFor(() => this.exited, { timeoutMs: 60_000, what: 'sgpods kube to stop' });
  }

  /** kill -9: nothing of the runtime's own cleanup runs. */
  async kill9(): Promise<void> {
    if (!this.exited) this.#child?.kill('SIGKILL');
    await waitFor(() => this.exited, { timeoutMs: 10_000, what: 'sgpods kube to die' });
  }

  /** `sgpods down --purge` on the home (also when the process already died). */
  async down(): Promise<void> {
    await this.kill9();
    const result = runCli(['--home', this.home, 'down']);
    if (result.code !== 0) throw new Error(`sgpods down failed: ${result.stderr}`);
  }
}

export { containerLaunchersOf as launchersOf } from '../../src/servers/kube/runtime/kubelet/container-process.js';
