/**
 * `sgpods cloud` as a user runs it: a child process on a home, ready once it has written
 * `aws-env`; shell scripts run with that file sourced, exactly as a user's terminal would.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { EC2Client } from '@aws-sdk/client-ec2';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from './run-cli.js';
import { waitFor } from './wait-for.js';

export interface ShellResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class CloudProcess {
  #output = '';

  private constructor(
    readonly home: string,
    readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
  }

  get awsEnv(): string {
    return join(this.home, 'aws-env');
  }

  get output(): string {
    return this.#output;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Starts the cloud and waits (with a deadline) until it serves. */
  static async start(home: string, args: readonly string[] = []): Promise<CloudProcess> {
    rmSync(join(home, 'aws-env'), { force: true });
    const child = spawn(process.execPath, [cliPath, 'cloud', '--home', home, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    const cloud = new CloudProcess(home, child);
    await waitFor(
      () => {
        if (cloud.exited) throw new Error(`sgpods cloud exited early:\n${cloud.output}`);
        return existsSync(cloud.awsEnv) && cloud.output.includes('serving');
      },
      { timeoutMs: 60_000, what: 'sgpods cloud to serve' },
    );
    return cloud;
  }

  env(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const line of readFileSync(this.awsEnv, 'utf8').split('\n')) {
      const match = /^export (\w+)='?(.*?)'?$/.exec(line);
      if (match?.[1] && match[2] !== undefined) env[match[1]] = match[2];
    }
    return env;
  }

  /** An SDK v3 client configured from `aws-env`, as a user's program would be. */
  ec2Client(): EC2Client {
    const env = this.env();
    return new EC2Client({
      endpoint: env.AWS_ENDPOINT_URL ?? '',
      region: env.AWS_REGION ?? '',
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
      },
      maxAttempts: 1,
    });
  }

  /** Like `sh`, but fails (with the script's stderr) unless it exits 0; returns trimmed stdout. */
  async shOk(script: string): Promise<string> {
    const result = await this.sh(script);
    if (result.code !== 0)
      throw new Error(`script failed (${result.code}): ${script}\n${result.stderr}`);
    return result.stdout.trim();
  }

  /** `sgpods exec <instance> -- <command…>` on this home, with `input` on its stdin. */
  exec(instanceId: string, command: readonly string[], input = ''): Promise<ShellResult> {
    return new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        [cliPath, '--home', this.home, 'exec', instanceId, '--', ...command],
        { timeout: 60_000, env: { ...process.env, NODE_NO_WARNINGS: '1' } },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
      child.stdin?.end(input);
    });
  }

  /** The argv prefix that runs a command inside an instance (for long-lived probes). */
  execPrefix(instanceId: string): string[] {
    return [process.execPath, cliPath, '--home', this.home, 'exec', instanceId, '--'];
  }

  /** Runs a bash script with `aws-env` sourced (and no user aws config). */
  sh(script: string): Promise<ShellResult> {
    return new Promise((resolve) => {
      execFile(
        'bash',
        ['-c', `set -euo pipefail\n. '${this.awsEnv}'\n${script}`],
        {
          env: {
            ...process.env,
            AWS_CONFIG_FILE: join(this.home, 'no-aws-config'),
            AWS_SHARED_CREDENTIALS_FILE: join(this.home, 'no-aws-credentials'),
          },
          timeout: 120_000,
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** SIGTERM, then waits for a clean exit. */
  async stop(): Promise<number | null> {
    if (!this.exited) this.child.kill('SIGTERM');
    await waitFor(() => this.exited, { timeoutMs: 30_000, what: 'sgpods cloud to stop' });
    return this.child.exitCode;
  }

  /** kill -9: no cleanup runs. */
  async crash(): Promise<void> {
    this.child.kill('SIGKILL');
    await waitFor(() => this.exited, { timeoutMs: 30_000, what: 'sgpods cloud to die' });
  }
}
