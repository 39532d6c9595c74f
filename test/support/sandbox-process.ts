/**
 * A whole sandbox on a test home, driven as a user drives it: `sgpods up` / `nodegroup` /
 * `status` / `down` through the built CLI (async, so the test's event loop keeps running), the
 * machine's kubectl (own KUBECACHEDIR) and aws CLI (the home's aws-env).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { readAwsEnvVariables } from '../../src/adapters/aws/home-aws.js';
import { cliPath } from './run-cli.js';
import { waitFor } from './wait-for.js';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  stdin?: string,
  cwd?: string,
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      [...args],
      {
        env: { ...process.env, ...env },
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        ...(cwd ? { cwd } : {}),
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

export class SandboxProcess {
  constructor(readonly home: string) {}

  sgpods(args: readonly string[], timeoutMs = 240_000): Promise<CommandResult> {
    return run(
      process.execPath,
      [cliPath, '--home', this.home, ...args],
      { NODE_NO_WARNINGS: '1' },
      timeoutMs,
    );
  }

  /**
   * A bash script typed into `sgpods shell` (stdin), from `cwd` with `env` added: read by
   * `bash -s`, or by the interactive shell when `interactive`.
   */
  shellScript(
    script: string,
    options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; interactive?: boolean },
  ): Promise<CommandResult> {
    const command = options.interactive ? [] : ['--', 'bash', '-s'];
    return run(
      process.execPath,
      [cliPath, '--home', this.home, 'shell', ...command],
      { NODE_NO_WARNINGS: '1', ...options.env },
      options.timeoutMs,
      script,
      options.cwd,
    );
  }

  async sgpodsOk(args: readonly string[]): Promise<string> {
    const result = await this.sgpods(args);
    if (result.code !== 0)
      throw new Error(
        `sgpods ${args.join(' ')} failed (${result.code}):\n${result.stdout}\n${result.stderr}`,
      );
    return result.stdout;
  }

  kubectl(args: readonly string[], stdin?: string): Promise<CommandResult> {
    return run(
      'kubectl',
      args,
      { KUBECONFIG: join(this.home, 'kubeconfig'), KUBECACHEDIR: join(this.home, 'kubectl-cache') },
      120_000,
      stdin,
    );
  }

  async kubectlOk(args: readonly string[], stdin?: string): Promise<string> {
    const result = await this.kubectl(args, stdin);
    if (result.code !== 0)
      throw new Error(`kubectl ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
    return result.stdout.trim();
  }

  /** The aws CLI with the home's settings (`<home>/aws-env`). */
  awsEnv(): NodeJS.ProcessEnv {
    return readAwsEnvVariables(this.home);
  }

  async awsJson<T = Record<string, unknown>>(args: readonly string[]): Promise<T> {
    const result = await run('aws', [...args, '--output', 'json'], this.awsEnv(), 60_000);
    if (result.code !== 0) throw new Error(`aws ${args.join(' ')} failed:\n${result.stderr}`);
    return JSON.parse(result.stdout || '{}') as T;
  }

  /** `aws ec2 create-security-group` in the VPC; the group id. */
  async createSecurityGroup(name: string, vpcId: string): Promise<string> {
    const { GroupId } = await this.awsJson<{ GroupId: string }>([
      'ec2',
      'create-security-group',
      '--group-name',
      name,
      '--description',
      name,
      '--vpc-id',
      vpcId,
    ]);
    return GroupId;
  }

  /** A pod's events, one `<type> <reason> <component>: <message>` line each. */
  eventsOf(namespace: string, name: string): Promise<string> {
    return this.kubectlOk([
      '-n',
      namespace,
      'get',
      'events',
      '--field-selector',
      `involvedObject.name=${name}`,
      '-o',
      'jsonpath={range .items[*]}{.type} {.reason} {.source.component}: {.message}{"\\n"}{end}',
    ]);
  }

  /**
   * Waits until server-side dry runs of `podYaml` come back with the pod-eni request three times
   * in a row: both webhook replicas' caches know the policy just applied.
   */
  async waitForPolicyInWebhooks(podYaml: string, what: string): Promise<void> {
    let streak = 0;
    await waitFor(
      async () => {
        const result = await this.kubectl(
          ['apply', '--dry-run=server', '-o', 'json', '-f', '-'],
          podYaml,
        );
        streak = result.stdout.includes('vpc.amazonaws.com/pod-eni') ? streak + 1 : 0;
        return streak >= 3;
      },
      { timeoutMs: 30_000, what: `the webhooks to know ${what}` },
    );
  }
}
