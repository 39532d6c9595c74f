/**
 * `sgpods flows [--eni ID] [--pod NS/NAME] [--follow]`: the sandbox's VPC flow logs (v2 records,
 * `<home>/flow-logs/flows.log`), filtered to one ENI or to the flows of one pod (its IP at either
 * end); `--follow` keeps printing records as the cloud writes them.
 */
import { existsSync } from 'node:fs';
import { isStatus, resourcePath } from '../../adapters/kube/kube-http-client.js';
import { InputError } from '../../core/errors.js';
import { flowLogHeader, type FlowRecord } from '../../core/flows/flow-records.js';
import { flowLogPathOf } from '../../servers/cloud/dataplane/flow-log-collector.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { FlowLogTail } from '../sandbox/flow-log-tail.js';
import { kubeClientOf } from '../sandbox/sandbox-session.js';

export interface FlowsOptions {
  readonly home: string;
  readonly eni?: string;
  readonly pod?: string;
  readonly follow?: boolean;
}

async function podAddress(home: string, reference: string): Promise<string> {
  const [namespace, name, ...rest] = reference.split('/');
  if (!namespace || !name || rest.length > 0) {
    throw new InputError(`--pod takes <namespace>/<name>, not "${reference}"`);
  }
  const kube = kubeClientOf(home);
  if (!kube) throw new InputError(`no cluster runs in ${home}`);
  try {
    const pod = await kube.get<{ status?: { podIP?: string } }>(
      resourcePath('v1', 'pods', namespace, name),
    );
    const ip = pod.status?.podIP;
    if (!ip) throw new InputError(`pod ${namespace}/${name} has no IP`);
    return ip;
  } catch (error) {
    if (isStatus(error, 'NotFound')) {
      throw new InputError(`pod ${namespace}/${name} not found`);
    }
    throw error;
  } finally {
    kube.close();
  }
}

export async function runFlows(options: FlowsOptions): Promise<ExitCode> {
  const path = flowLogPathOf(options.home);
  if (!existsSync(path)) {
    process.stderr.write(
      `sgpods: no flow logs in ${options.home} (they come from a cloud running with its dataplane and tcpdump installed)\n`,
    );
    return exitCodes.negative;
  }
  const address = options.pod ? await podAddress(options.home, options.pod) : undefined;
  const wanted = (record: FlowRecord) =>
    (!options.eni || record.interfaceId === options.eni) &&
    (!address || record.source === address || record.destination === address);
  process.stdout.write(`${flowLogHeader}\n`);
  const tail = new FlowLogTail(path);
  const readNew = () => {
    const shown = tail
      .readNew()
      .filter(({ record }) => wanted(record))
      .map(({ line }) => `${line}\n`);
    if (shown.length > 0) process.stdout.write(shown.join(''));
  };
  readNew();
  if (!options.follow) return exitCodes.success;
  await new Promise<void>((resolve) => {
    const timer = setInterval(readNew, 250);
    const stop = () => {
      clearInterval(timer);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return exitCodes.success;
}
