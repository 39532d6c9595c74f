/**
 * `sgpods shell [-- command…]`: a shell on the sandbox's workstation — an EC2 instance in the
 * cluster's VPC standing for the workshop's Cloud9 (launched on first use). It runs in the
 * instance's network namespace with the VPC resolver, so the RDS endpoint, the EKS API host and
 * `ec2.<region>.amazonaws.com` resolve as inside an AWS VPC, and the metadata service answers at
 * 169.254.169.254. aws, kubectl, psql, jq, curl and sgpods are on PATH; the region, the
 * sandbox's credentials, its CA (AWS_CA_BUNDLE), an in-VPC kubeconfig and what the workshop's
 * earlier chapters export (ROLE_NAME) are set. The host's files and $HOME stay visible.
 * Interactive bash by default; with a command, that command runs with stdin passed through and
 * its exit status returned.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readAwsEnvVariables } from '../../adapters/aws/home-aws.js';
import { listNamespaces } from '../../adapters/netns/netns.js';
import { InputError } from '../../core/errors.js';
import { kernelPrefix } from '../../core/kernel-names.js';
import { instanceNamespaceOf } from '../../servers/cloud/dataplane/compute-plane.js';
import { exitCodes } from '../exit-codes.js';
import { isComponentRunning } from '../sandbox/background-process.js';
import { CommandStartError, runInNetworkNamespace } from '../sandbox/namespace-command.js';
import { openCloudSession, type CloudSession } from '../sandbox/sandbox-session.js';
import { ensureWorkstation, findWorkstation, type Workstation } from '../sandbox/workstation.js';

export interface ShellOptions {
  readonly home: string;
  readonly command: readonly string[];
  /** Deadline for a new workstation to run (default 60 s). */
  readonly timeoutMs?: number;
}

const mainScript = fileURLToPath(new URL('../main.js', import.meta.url));

/** Variables of the host that would point the clients elsewhere than the VPC. */
const hostOnlyVariables = ['AWS_ENDPOINT_URL', 'AWS_EC2_METADATA_DISABLED', 'AWS_PROFILE'];

function negative(message: string): number {
  process.stderr.write(`sgpods: ${message}\n`);
  return exitCodes.negative;
}

export function workstationDirectoryOf(home: string): string {
  return join(home, 'workstation');
}

/** `bin/sgpods` (this checkout's CLI) and the interactive shell's rc file. */
function writeWorkstationFiles(home: string, workstation: Workstation): { rcFile: string } {
  const directory = workstationDirectoryOf(home);
  const bin = join(directory, 'bin');
  mkdirSync(bin, { recursive: true });
  const quote = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;
  const sgpods = join(bin, 'sgpods');
  const run = `${quote(process.execPath)} ${quote(mainScript)} "$@"`;
  writeFileSync(
    sgpods,
    [
      '#!/bin/sh',
      "# sgpods reaches the sandbox over the host's loopback: it runs in the host's network namespace.",
      'if [ -n "$SGPODS_HOST_NETNS" ] && [ -e "$SGPODS_HOST_NETNS" ]; then',
      `  exec nsenter --net="$SGPODS_HOST_NETNS" -- ${run}`,
      'fi',
      `exec ${run}`,
      '',
    ].join('\n'),
  );
  chmodSync(sgpods, 0o755);
  const rcFile = join(directory, 'bashrc');
  writeFileSync(
    rcFile,
    [
      '# sgpods shell: the workstation ' + workstation.instanceId,
      '[ -f /etc/bash.bashrc ] && . /etc/bash.bashrc',
      '[ -f ~/.bashrc ] && . ~/.bashrc',
      `export PATH=${quote(bin)}:"$PATH"`,
      `PS1=${quote(`[workstation ${workstation.privateIp}] \\w\\$ `)}`,
      '',
    ].join('\n'),
  );
  return { rcFile };
}

function workstationEnvironment(
  home: string,
  session: CloudSession,
  workstation: Workstation,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !hostOnlyVariables.includes(name)),
  );
  const aws = readAwsEnvVariables(home);
  return {
    ...env,
    PATH: `${join(workstationDirectoryOf(home), 'bin')}:${env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    SGPODS_HOME: home,
    SGPODS_WORKSTATION: workstation.instanceId,
    // This process stays in the host's namespace while the shell runs.
    SGPODS_HOST_NETNS: `/proc/${process.pid}/ns/net`,
    KUBECONFIG: join(home, 'kube', 'kubeconfig-in-vpc'),
    AWS_ACCESS_KEY_ID: aws.AWS_ACCESS_KEY_ID ?? '',
    AWS_SECRET_ACCESS_KEY: aws.AWS_SECRET_ACCESS_KEY ?? '',
    AWS_REGION: aws.AWS_REGION ?? '',
    AWS_DEFAULT_REGION: aws.AWS_REGION ?? '',
    AWS_CA_BUNDLE: join(home, 'pki', 'ca.crt'),
    ROLE_NAME: session.placement.instanceProfileName ?? '',
  };
}

/** Waits until the workstation runs and its namespace exists; its view then. */
async function untilRunning(
  session: CloudSession,
  namespace: string,
  timeoutMs: number,
): Promise<Workstation> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await findWorkstation(session.ec2, session.clusterName);
    if (current?.state === 'running' && (await listNamespaces()).includes(namespace)) {
      return current;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the workstation ${current?.instanceId ?? ''} is not running after ${timeoutMs / 1000} s (${current?.state ?? 'gone'})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function runShell(options: ShellOptions): Promise<number> {
  const { home } = options;
  if (process.getuid?.() !== 0) {
    throw new InputError(
      'sgpods shell enters a network namespace of the sandbox, which needs root',
    );
  }
  if (!isComponentRunning(home, 'cloud') || !isComponentRunning(home, 'kube')) {
    return negative(`no sandbox runs in ${home}; start it with: sgpods up`);
  }
  const session = await openCloudSession(home);
  if (!session) return negative(`the cloud of ${home} has not written its settings yet`);
  let workstation: Workstation;
  let namespace: string;
  try {
    const launched = await ensureWorkstation(session);
    namespace = instanceNamespaceOf(kernelPrefix(home), launched.instanceId);
    workstation = await untilRunning(session, namespace, options.timeoutMs ?? 60_000);
  } finally {
    session.close();
  }
  const { rcFile } = writeWorkstationFiles(home, workstation);
  const env = workstationEnvironment(home, session, workstation);
  const interactive = options.command.length === 0;
  if (interactive) {
    process.stderr.write(
      `sgpods: workstation ${workstation.instanceId} (${workstation.privateIp}) in ${session.vpcId}; aws, kubectl, psql, jq, curl and sgpods are set up. exit to leave.\n`,
    );
  }
  try {
    return await runInNetworkNamespace(
      namespace,
      interactive ? ['bash', '--rcfile', rcFile, '-i'] : options.command,
      env,
    );
  } catch (error) {
    if (error instanceof CommandStartError) return negative(error.message);
    throw error;
  }
}
