/**
 * `sgpods exec <instance-id> -- <command…>`: runs a command inside an instance of the home's
 * cloud: its network namespace, with the instance's resolv.conf (the VPC resolver) mounted over
 * /etc/resolv.conf by `ip netns exec`. Stdin, stdout and stderr are passed through, and so is
 * the command's exit status (128 + n when a signal ended it).
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { listNamespaces } from '../../adapters/netns/netns.js';
import { InputError } from '../../core/errors.js';
import { kernelPrefix } from '../../core/kernel-names.js';
import { isResourceId } from '../../core/sg/resource-ids.js';
import { cloudDatabasePath } from '../../servers/cloud/cloud-service.js';
import { instanceNamespaceOf } from '../../servers/cloud/dataplane/compute-plane.js';
import { Ec2Store } from '../../servers/cloud/state/ec2-store.js';
import { exitCodes } from '../exit-codes.js';
import { CommandStartError, runInNetworkNamespace } from '../sandbox/namespace-command.js';

export interface ExecOptions {
  readonly home: string;
  readonly instanceId: string;
  readonly command: readonly string[];
}

function negative(message: string): number {
  process.stderr.write(`sgpods: ${message}\n`);
  return exitCodes.negative;
}

export async function runExec(options: ExecOptions): Promise<number> {
  const { instanceId } = options;
  if (!isResourceId('instance', instanceId)) {
    throw new InputError(`Invalid id: "${instanceId}" (expecting "i-...")`);
  }
  if (options.command.length === 0)
    throw new InputError('no command given (sgpods exec <instance-id> -- <command…>)');
  if (process.getuid?.() !== 0) {
    throw new InputError('sgpods exec enters a network namespace, which needs root');
  }
  const path = cloudDatabasePath(options.home);
  if (!existsSync(path)) return negative(`the home ${options.home} has no cloud`);
  const database = new Database(path, { readonly: true, fileMustExist: true });
  let state: string | undefined;
  try {
    state = new Ec2Store(database).compute.instance(instanceId)?.state;
  } finally {
    database.close();
  }
  if (state === undefined) return negative(`The instance ID '${instanceId}' does not exist`);
  if (state !== 'running') return negative(`instance ${instanceId} is ${state}, not running`);
  const namespace = instanceNamespaceOf(kernelPrefix(options.home), instanceId);
  if (!(await listNamespaces()).includes(namespace)) {
    return negative(
      `instance ${instanceId} has no namespace: is the cloud running with its dataplane?`,
    );
  }
  try {
    return await runInNetworkNamespace(namespace, options.command);
  } catch (error) {
    if (error instanceof CommandStartError) return negative(error.message);
    throw error;
  }
}
