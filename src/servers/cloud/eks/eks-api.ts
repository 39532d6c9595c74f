/**
 * EKS over rest-json, for the home's one cluster: `GET /clusters` (ListClusters) and
 * `GET /clusters/{name}` (DescribeCluster). Timestamps are epoch seconds (the SDK refuses ISO
 * strings here); an unknown name is 404 `ResourceNotFoundException`, the type in a header.
 */
import { AwsServiceError } from '../../../core/errors.js';
import type { RestRequest } from '../cloud-endpoint.js';
import type { ClusterNetwork } from '../ec2/bootstrap.js';
import { apiEndpointHostOf } from './control-plane.js';

/** The EKS operations served (docs/aws-coverage.md lists them). */
export const eksOperations: readonly string[] = ['DescribeCluster', 'ListClusters'];

/** What a home keeps about its cluster, made at first start. */
export interface ClusterIdentity {
  /** Epoch seconds. */
  readonly createdAt: number;
  readonly version: string;
  readonly platformVersion: string;
  /** The 32 hex digits of the endpoint host and the OIDC issuer. */
  readonly endpointId: string;
  readonly clusterRoleName: string;
  readonly nodeRoleName: string;
}

export interface EksCluster {
  readonly name: string;
  readonly region: string;
  readonly accountId: string;
  readonly network: ClusterNetwork;
  readonly identity: ClusterIdentity;
  /** The cluster CA certificate (PEM), base64; empty before the home has one. */
  readonly certificateAuthority: string;
}

export function clusterJson(cluster: EksCluster): Record<string, unknown> {
  const { identity, network, region, accountId, name } = cluster;
  return {
    name,
    arn: `arn:aws:eks:${region}:${accountId}:cluster/${name}`,
    createdAt: identity.createdAt,
    version: identity.version,
    endpoint: `https://${apiEndpointHostOf(identity.endpointId, region)}`,
    roleArn: `arn:aws:iam::${accountId}:role/${identity.clusterRoleName}`,
    resourcesVpcConfig: {
      subnetIds: [...network.publicSubnetIds, ...network.privateSubnetIds],
      securityGroupIds: [],
      clusterSecurityGroupId: network.clusterSecurityGroupId,
      vpcId: network.vpcId,
      endpointPublicAccess: true,
      // Inside the VPC the endpoint name resolves to the control plane's interface.
      endpointPrivateAccess: true,
      publicAccessCidrs: ['0.0.0.0/0'],
    },
    kubernetesNetworkConfig: { serviceIpv4Cidr: '10.100.0.0/16', ipFamily: 'ipv4' },
    logging: {
      clusterLogging: [
        {
          types: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'],
          enabled: false,
        },
      ],
    },
    identity: {
      oidc: { issuer: `https://oidc.eks.${region}.amazonaws.com/id/${identity.endpointId}` },
    },
    status: 'ACTIVE',
    certificateAuthority: { data: cluster.certificateAuthority },
    platformVersion: identity.platformVersion,
    tags: {},
    accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' },
  };
}

export function serveEks(
  request: RestRequest,
  cluster: EksCluster,
): { status: number; body: unknown } {
  const parts = request.path.split('/').filter(Boolean).map(decodeURIComponent);
  if (request.method === 'GET' && parts.length === 1 && parts[0] === 'clusters') {
    return { status: 200, body: { clusters: [cluster.name], nextToken: null } };
  }
  if (request.method === 'GET' && parts.length === 2 && parts[0] === 'clusters') {
    if (parts[1] !== cluster.name) {
      throw new AwsServiceError(
        'ResourceNotFoundException',
        `No cluster found for name: ${parts[1] ?? ''}.`,
        404,
      );
    }
    return { status: 200, body: { cluster: clusterJson(cluster) } };
  }
  throw new AwsServiceError(
    'InvalidRequestException',
    `${request.method} ${request.path} is not served by this EKS endpoint (DescribeCluster and ListClusters are)`,
  );
}
