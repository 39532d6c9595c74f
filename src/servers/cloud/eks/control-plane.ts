/**
 * Where the EKS control plane meets the VPC. As EKS places cross-account ENIs ("Amazon EKS
 * <cluster>", carrying the cluster security group) in the cluster's subnets, the cloud makes one
 * requester-managed interface at start: its primary address is the Kubernetes API endpoint, its
 * secondary address stands for the VPC interface endpoints of the AWS services (private DNS on:
 * `ec2.<region>.amazonaws.com` and friends resolve to it inside the VPC). Both are relayed to
 * the home's unix sockets by a process in the interface's namespace.
 */
import { controlPlaneInterfaceKey } from '../dataplane/compute-plane.js';
import type { ClusterNetwork } from '../ec2/bootstrap.js';
import type { Ec2Context } from '../ec2/ec2-context.js';
import { insertInterface } from '../ec2/interface-records.js';
import { existingSubnet } from '../ec2/vpcs.js';
import type { Ec2Store } from '../state/ec2-store.js';

export interface ControlPlaneAddresses {
  readonly networkInterfaceId: string;
  /** The Kubernetes API endpoint (port 443). */
  readonly api: string;
  /** The AWS service endpoints (HTTPS, port 443). */
  readonly services: string;
}

/** The host names of the AWS service endpoints that resolve to the services address in the VPC. */
export function awsServiceHostsOf(region: string): string[] {
  return [
    ...['ec2', 'rds', 'eks', 'sts', 'iam'].map((service) => `${service}.${region}.amazonaws.com`),
    'sts.amazonaws.com',
    'iam.amazonaws.com',
  ];
}

/** The API server's host name, as DescribeCluster's `endpoint` gives it. */
export function apiEndpointHostOf(endpointId: string, region: string): string {
  return `${endpointId}.gr7.${region}.eks.amazonaws.com`;
}

/** Makes the control plane's interface once (homes made earlier get it at their next start). */
export function ensureControlPlaneInterface(
  context: Ec2Context,
  clusterName: string,
  network: ClusterNetwork,
): void {
  const { store } = context;
  if (store.meta(controlPlaneInterfaceKey) !== undefined) return;
  const subnetId = network.privateSubnetIds[0] ?? network.publicSubnetIds[0];
  if (subnetId === undefined) throw new Error('the cluster VPC has no subnets');
  const row = insertInterface(context, {
    subnet: existingSubnet(store, subnetId),
    description: `Amazon EKS ${clusterName}`,
    groupIds: [network.clusterSecurityGroupId],
    interfaceType: 'interface',
    privateIps: [],
    secondaryCount: 1,
    requesterManaged: true,
  });
  store.setMeta(controlPlaneInterfaceKey, row.networkInterfaceId);
}

export function controlPlaneAddressesOf(store: Ec2Store): ControlPlaneAddresses | undefined {
  const networkInterfaceId = store.meta(controlPlaneInterfaceKey);
  if (networkInterfaceId === undefined) return undefined;
  const addresses = store.compute.addressesOf(networkInterfaceId);
  const api = addresses.find((item) => item.primary)?.address;
  const services = addresses.find((item) => !item.primary && !item.address.includes(':'))?.address;
  if (api === undefined || services === undefined) return undefined;
  return { networkInterfaceId, api, services };
}
