/**
 * `aws-cni`, the sandbox's CNI plugin as the agent installs it: small and quick to start, it
 * asks the agent's IPAM (the unix socket named in its configuration) for an address and wires
 * the pod point-to-point as the VPC CNI does. ADD, DEL (idempotent: nothing left is fine),
 * CHECK, VERSION; CNI error objects, with the agent's code (11 = try again) when it has one.
 */
import { request } from 'node:http';
import { cniEnvironment, CniError, runCniPlugin } from '../adapters/cni/cni-plugin-protocol.js';
import {
  checkPointToPoint,
  podLinkFromEnvironment,
  unwirePointToPoint,
  wireOrUndo,
} from '../adapters/cni/point-to-point.js';

interface NetworkConfig {
  readonly cniVersion?: string;
  readonly name?: string;
  readonly ipam?: { readonly socket?: string };
}

interface IpamAnswer {
  readonly address?: string | null;
  readonly code?: number;
  readonly message?: string;
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

async function add(config: NetworkConfig): Promise<unknown> {
  const link = podLinkFromEnvironment();
  const args = cniArgs();
  const { address } = await askIpam(config, '/v1/add', {
    containerId: link.containerId,
    ifname: link.ifname,
    podNamespace: args.K8S_POD_NAMESPACE,
    podName: args.K8S_POD_NAME,
  });
  if (!address) throw new CniError(11, 'the agent gave no address');
  return wireOrUndo(link, address, config.cniVersion ?? '1.0.0', () => remove(config));
}

async function remove(config: NetworkConfig): Promise<void> {
  const containerId = cniEnvironment('CNI_CONTAINERID');
  const { address } = await askIpam(config, '/v1/check', { containerId });
  await unwirePointToPoint(containerId, address ?? undefined);
  await askIpam(config, '/v1/del', { containerId });
}

async function check(config: NetworkConfig): Promise<void> {
  const link = podLinkFromEnvironment();
  const { address } = await askIpam(config, '/v1/check', { containerId: link.containerId });
  if (!address) throw new CniError(7, `no address allocated to container ${link.containerId}`);
  await checkPointToPoint(link);
}

export function main(): Promise<number> {
  return runCniPlugin({ add, remove, check });
}
