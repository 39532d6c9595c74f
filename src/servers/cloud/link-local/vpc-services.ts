/**
 * The VPC's link-local services, run as one process inside the router namespace (Node.js cannot
 * enter a namespace itself): the instance metadata service on 169.254.169.254:80 and the VPC
 * resolver on the VPC's base + 2 and 169.254.169.253, port 53. Packets to them end in the
 * router (they are its own addresses), so security groups never filter them, as on AWS.
 */
import { createHmac } from 'node:crypto';
import { nthAddress, parseCidr } from '../../../core/net/ip-address.js';
import { startMetadataService } from './metadata-service.js';
import { StateDirectory } from './state-directory.js';
import { startVpcResolver } from './vpc-resolver.js';

export const metadataAddress = '169.254.169.254';
export const amazonDnsLinkLocalAddress = '169.254.169.253';

/** The addresses the router namespace must hold for the services (on its loopback). */
export function linkLocalAddressesOf(vpcCidr: string): string[] {
  const parsed = parseCidr(vpcCidr);
  if (!parsed) throw new RangeError(`bad VPC CIDR ${vpcCidr}`);
  return [metadataAddress, amazonDnsLinkLocalAddress, nthAddress(parsed.cidr, 2).text];
}

export interface RunningVpcServices {
  close(): Promise<void>;
}

export async function runVpcServices(options: {
  databasePath: string;
  accountId: string;
  onError?: (error: unknown) => void;
}): Promise<RunningVpcServices> {
  const directory = new StateDirectory(options.databasePath, options.accountId);
  const vpcCidr = directory.clusterVpcCidr();
  if (!vpcCidr) {
    directory.close();
    throw new Error("the home's cloud has no cluster VPC");
  }
  const secret = directory.meta('secretAccessKey') ?? '';
  const [, amazonDns, resolverAddress] = linkLocalAddressesOf(vpcCidr);
  const onError = options.onError ?? (() => undefined);
  // Tokens stay valid across restarts of this process: the key derives from the home's secret.
  const tokenSecret = createHmac('sha256', secret).update('imds-token-v2').digest();
  const metadata = await startMetadataService({
    directory,
    host: metadataAddress,
    port: 80,
    tokenSecret,
    onError,
  });
  const resolver = await startVpcResolver({
    directory,
    addresses: [resolverAddress ?? '', amazonDns ?? ''],
    port: 53,
    onError,
  });
  return {
    async close() {
      await metadata.close();
      await resolver.close();
      directory.close();
    },
  };
}
