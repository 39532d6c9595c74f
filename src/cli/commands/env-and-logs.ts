/**
 * `sgpods env`: the exports that point kubectl and the aws CLI on the host at the home's sandbox
 * (`eval "$(sgpods env)"`). `sgpods logs <component> [-f]`: a component's log — the cloud, the
 * cluster and the dashboard from their log files, the controller, aws-node and the cluster DNS
 * through `kubectl logs` (every replica, prefixed) — followed with `-f`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { awsEnvPath } from '../../adapters/aws/home-aws.js';
import { InputError } from '../../core/errors.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { logPathOf } from '../sandbox/background-process.js';
import { kubeconfigPathOf } from '../sandbox/sandbox-session.js';

const podComponents: Readonly<Record<string, string>> = {
  controller: 'app=vpc-resource-controller',
  'aws-node': 'k8s-app=aws-node',
  coredns: 'k8s-app=kube-dns',
};
const fileComponents = ['cloud', 'kube', 'dashboard'];

export const logComponents = [...fileComponents, ...Object.keys(podComponents)];

function requireSandbox(home: string): void {
  if (!existsSync(awsEnvPath(home)) || !existsSync(kubeconfigPathOf(home)))
    throw new InputError(`no sandbox in ${home}; start one with sgpods --home ${home} up`);
}

export function runEnv(home: string): ExitCode {
  requireSandbox(home);
  const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  process.stdout.write(
    [
      `export KUBECONFIG=${quote(kubeconfigPathOf(home))}`,
      ...readFileSync(awsEnvPath(home), 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('export ')),
      '',
    ].join('\n'),
  );
  return exitCodes.success;
}

function streamed(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<ExitCode> {
  const [command = '', ...args] = argv;
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', env });
    const stop = () => child.kill('SIGTERM');
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    child.once('error', () => {
      resolve(exitCodes.internal);
    });
    child.once('exit', (code) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(code === 0 || code === null ? exitCodes.success : exitCodes.negative);
    });
  });
}

export async function runLogs(
  home: string,
  component: string,
  options: { follow: boolean },
): Promise<ExitCode> {
  if (!logComponents.includes(component))
    throw new InputError(`unknown component "${component}"; one of: ${logComponents.join(', ')}`);
  requireSandbox(home);
  if (fileComponents.includes(component)) {
    const path = logPathOf(home, component);
    if (!existsSync(path)) throw new InputError(`${component} has no log yet (${path})`);
    return streamed(['tail', '-n', '200', ...(options.follow ? ['-F'] : []), path], process.env);
  }
  return streamed(
    [
      'kubectl',
      '-n',
      'kube-system',
      'logs',
      '-l',
      podComponents[component] ?? '',
      '--prefix',
      '--tail=200',
      '--max-log-requests=20',
      ...(options.follow ? ['-f'] : []),
    ],
    {
      ...process.env,
      KUBECONFIG: kubeconfigPathOf(home),
      KUBECACHEDIR: join(home, 'kubectl-cache'),
    },
  );
}
