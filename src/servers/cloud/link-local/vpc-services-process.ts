/**
 * Starts and supervises the VPC's link-local services process inside the router namespace
 * (`ip netns exec <router> sgpods vpc-services`): gives the router its service addresses, then
 * runs it as a supervised namespace process (restarted if it dies, stopped with the cloud).
 */
import { ipBatch } from '../../../adapters/netns/netns.js';
import { NamespaceProcess } from '../dataplane/namespace-process.js';
import { linkLocalAddressesOf } from './vpc-services.js';

/** The name the services process registers under `<home>/run`. */
export const vpcServicesProcessName = 'vpc-services';

export interface VpcServicesProcessOptions {
  readonly home: string;
  readonly namespace: string;
  readonly vpcCidr: string;
  readonly onError?: (error: unknown) => void;
  readonly readyTimeoutMs?: number;
}

export async function startVpcServicesProcess(
  options: VpcServicesProcessOptions,
): Promise<NamespaceProcess> {
  await ipBatch(
    options.namespace,
    linkLocalAddressesOf(options.vpcCidr).map((address) => `addr replace ${address}/32 dev lo`),
  );
  return NamespaceProcess.start({
    home: options.home,
    namespace: options.namespace,
    name: vpcServicesProcessName,
    args: ['vpc-services'],
    ...(options.onError ? { onError: options.onError } : {}),
    ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
  });
}
