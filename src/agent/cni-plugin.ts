/**
 * `aws-cni`, the sandbox's CNI plugin as the agent installs it: small and quick to start, it
 * asks the agent (the unix socket named in its configuration) how to network the pod, then
 * wires it: point-to-point with a secondary address of the node's ENI, or through the pod's
 * branch ENI in the configured enforcing mode. A branch pod's wiring is recorded on disk before
 * the first change, so DEL undoes it after any restart without asking anyone. ADD, DEL
 * (idempotent: nothing left is fine), CHECK, VERSION; CNI error objects, with the agent's code
 * (11 = try again later) when it has one.
 */
import {
  appendFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import {
  branchHostVethName,
  branchStateFromPrevResult,
  checkBranchPod,
  unwireBranchPod,
  wireBranchPod,
  type BranchPodState,
  type EnforcingMode,
} from '../adapters/cni/branch-wiring.js';
import { cniEnvironment, CniError, runCniPlugin } from '../adapters/cni/cni-plugin-protocol.js';
import {
  checkPointToPoint,
  podLinkFromEnvironment,
  unwirePointToPoint,
  wireOrUndo,
  type PodLink,
} from '../adapters/cni/point-to-point.js';
import { runCommand } from '../adapters/exec/run-command.js';
import type { BranchWiring } from '../core/cni/pod-network-plan.js';

interface NetworkConfig {
  readonly cniVersion?: string;
  readonly name?: string;
  readonly ipam?: { readonly socket?: string };
  readonly podSGEnforcingMode?: EnforcingMode;
  /** Where branch pods' wiring is recorded (default: `pods/` beside the socket). */
  readonly stateDir?: string;
  /** The ADD result, when the runtime keeps it (libcni's cache). */
  readonly prevResult?: unknown;
}

interface IpamAnswer {
  readonly address?: string | null;
  readonly branch?: BranchWiring;
  readonly mode?: EnforcingMode;
  readonly code?: number;
  readonly message?: string;
}

/** `to <pod> lookup main` at 512, as ipamd adds for every pod (so standard-mode branch pods reach it directly). */
const toPodRule = (address: string) => ['to', address, 'pref', '512', 'table', 'main'];

function stateDirectory(config: NetworkConfig): string {
  return config.stateDir ?? join(dirname(config.ipam?.socket ?? '/run/aws-node/x'), 'pods');
}

function statePath(config: NetworkConfig, containerId: string): string {
  return join(stateDirectory(config), `${containerId}.json`);
}

function readState(config: NetworkConfig, containerId: string): BranchPodState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(config, containerId), 'utf8')) as BranchPodState;
  } catch {
    return undefined;
  }
}

function writeState(config: NetworkConfig, state: BranchPodState): void {
  const path = statePath(config, state.containerId);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state)}\n`);
  renameSync(`${path}.tmp`, path);
}

/** `K8S_POD_NAMESPACE=…;K8S_POD_NAME=…` from CNI_ARGS. */
function cniArgs(): Record<string, string> {
  const pairs = (process.env.CNI_ARGS ?? '').split(';').map((pair) => pair.split('='));
  return Object.fromEntries(pairs.filter((pair) => pair.length === 2)) as Record<string, string>;
}

function askIpam(config: NetworkConfig, path: string, body: unknown): Promise<IpamAnswer> {
  const socketPath = config.ipam?.socket;
  if (!socketPath) throw new CniError(7, 'ipam.socket missing from the network configuration');
  return new Promise((resolve, reject) => {
    const call = request(
      { socketPath, path, method: 'POST', headers: { 'content-type': 'application/json' } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const answer = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as IpamAnswer;
          if ((response.statusCode ?? 500) >= 400) {
            reject(new CniError(answer.code ?? 999, answer.message ?? 'the agent failed'));
          } else resolve(answer);
        });
      },
    );
    call.on('error', (error) => {
      reject(new CniError(11, `the agent is not serving IPAM on ${socketPath}: ${error.message}`));
    });
    call.setTimeout(60_000, () => call.destroy(new Error('timed out')));
    call.end(JSON.stringify(body));
  });
}

async function addBranch(
  config: NetworkConfig,
  link: PodLink,
  wiring: BranchWiring,
  mode: EnforcingMode,
): Promise<unknown> {
  const state: BranchPodState = {
    kind: 'branch',
    containerId: link.containerId,
    hostVeth: branchHostVethName(link.containerId, mode),
    vlanId: wiring.vlanId,
    address: wiring.address,
    mode,
  };
  writeState(config, state);
  try {
    return await wireBranchPod(link, state, wiring, config.cniVersion ?? '1.0.0');
  } catch (error) {
    await unwireBranchPod(state).catch(() => undefined);
    rmSync(statePath(config, link.containerId), { force: true });
    if (error instanceof CniError) throw error;
    throw new CniError(
      999,
      `failed to set up the pod network through ${wiring.eniId}`,
      error instanceof Error ? error.message : String(error),
    );
  }
}

async function add(config: NetworkConfig): Promise<unknown> {
  const link = podLinkFromEnvironment();
  const args = cniArgs();
  const asked = performance.now();
  const answer = await askIpam(config, '/v1/add', {
    containerId: link.containerId,
    ifname: link.ifname,
    podNamespace: args.K8S_POD_NAMESPACE,
    podName: args.K8S_POD_NAME,
    podUid: args.K8S_POD_UID,
  });
  invocation.agentMs = Math.round((performance.now() - asked) * 10) / 10;
  invocation.kind = answer.branch ? 'branch' : 'regular';
  if (answer.branch)
    return addBranch(
      config,
      link,
      answer.branch,
      answer.mode ?? config.podSGEnforcingMode ?? 'strict',
    );
  const { address } = answer;
  if (!address) throw new CniError(11, 'the agent gave no address');
  const result = await wireOrUndo(link, address, config.cniVersion ?? '1.0.0', () =>
    remove(config),
  );
  await runCommand(['ip', 'rule', 'del', ...toPodRule(address)], { okExitCodes: [0, 1, 2] });
  await runCommand(['ip', 'rule', 'add', ...toPodRule(address)]);
  return result;
}

async function remove(config: NetworkConfig): Promise<void> {
  const containerId = cniEnvironment('CNI_CONTAINERID');
  const state =
    readState(config, containerId) ?? branchStateFromPrevResult(containerId, config.prevResult);
  if (state) {
    await unwireBranchPod(state);
    rmSync(statePath(config, containerId), { force: true });
    return;
  }
  const { address } = await askIpam(config, '/v1/check', { containerId });
  await unwirePointToPoint(containerId, address ?? undefined);
  if (address)
    await runCommand(['ip', 'rule', 'del', ...toPodRule(address)], { okExitCodes: [0, 1, 2] });
  await askIpam(config, '/v1/del', { containerId });
}

async function check(config: NetworkConfig): Promise<void> {
  const link = podLinkFromEnvironment();
  const state = readState(config, link.containerId);
  if (state) {
    await checkBranchPod(link, state);
    return;
  }
  const { address } = await askIpam(config, '/v1/check', { containerId: link.containerId });
  if (!address) throw new CniError(7, `no address allocated to container ${link.containerId}`);
  await checkPointToPoint(link);
}

/** What one invocation did, appended to `plugin.log` beside the socket (upstream keeps plugin.log). */
const invocation: { kind?: 'branch' | 'regular'; agentMs?: number } = {};

function logged<Result>(
  command: string,
  handler: (config: NetworkConfig) => Promise<Result>,
): (config: NetworkConfig) => Promise<Result> {
  return async (config) => {
    const started = performance.now();
    let error: string | undefined;
    try {
      return await handler(config);
    } catch (failure) {
      error = failure instanceof Error ? failure.message : String(failure);
      throw failure;
    } finally {
      const args = cniArgs();
      const line = {
        time: new Date().toISOString(),
        command,
        containerId: process.env.CNI_CONTAINERID,
        pod: `${args.K8S_POD_NAMESPACE ?? ''}/${args.K8S_POD_NAME ?? ''}`,
        ...invocation,
        totalMs: Math.round((performance.now() - started) * 10) / 10,
        ...(error ? { error } : {}),
      };
      try {
        appendFileSync(
          join(dirname(config.ipam?.socket ?? '/run/aws-node/x'), 'plugin.log'),
          `${JSON.stringify(line)}\n`,
        );
      } catch {
        // The log is for people and benchmarks; never a reason to fail the pod.
      }
    }
  };
}

export function main(): Promise<number> {
  return runCniPlugin({
    add: logged('ADD', add),
    remove: logged('DEL', remove),
    check: logged('CHECK', check),
  });
}
