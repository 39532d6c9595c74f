/**
 * A host-side session with a running sandbox, through the same APIs the user's tools use: the
 * cloud's (SDK clients on the loopback endpoint, from `<home>/aws-env`) and the cluster's (the
 * admin credentials of `<home>/kubeconfig`). Used by `up`, `status` and `nodegroup`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import {
  homeEc2Client,
  homeEksClient,
  readHomeAwsSettings,
  type HomeAwsSettings,
} from '../../adapters/aws/home-aws.js';
import { KubeHttpClient } from '../../adapters/kube/kube-http-client.js';
import type { ClusterPlacement } from '../../servers/kube/runtime/sandbox/node-groups.js';
import { ensureTokens } from '../../servers/kube/authentication.js';

type Json = Record<string, unknown>;

export interface KubeNodeView {
  readonly name: string;
  readonly ready: boolean;
  /** The Ready condition's message when not Ready (what a user checks first). */
  readonly notReadyBecause?: string;
  readonly nodeGroup: string | undefined;
  readonly instanceType: string;
  readonly internalIp: string;
  readonly providerId: string;
}

export function kubeconfigPathOf(home: string): string {
  return join(home, 'kubeconfig');
}

/** The API server's loopback URL from the home's kubeconfig (undefined before it exists). */
export function kubeApiUrlOf(home: string): string | undefined {
  const path = kubeconfigPathOf(home);
  if (!existsSync(path)) return undefined;
  return /server: (https:\/\/127\.0\.0\.1:\d+)/.exec(readFileSync(path, 'utf8'))?.[1];
}

export function kubeClientOf(home: string): KubeHttpClient | undefined {
  const url = kubeApiUrlOf(home);
  const caPath = join(home, 'pki', 'ca.crt');
  if (url === undefined || !existsSync(caPath)) return undefined;
  return new KubeHttpClient({
    url,
    token: ensureTokens(home).adminToken,
    ca: readFileSync(caPath, 'utf8'),
    userAgent: 'sgpods/0.1.0',
  });
}

export async function apiServerAnswers(home: string): Promise<boolean> {
  const client = kubeClientOf(home);
  if (!client) return false;
  try {
    await client.get('/api/v1/namespaces/default');
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

type NodeCondition = { type: string; status: string; message?: string };

/** Ready, or the Ready condition's message. */
function readiness(
  conditions: readonly NodeCondition[],
): Pick<KubeNodeView, 'ready' | 'notReadyBecause'> {
  const ready = conditions.find((item) => item.type === 'Ready');
  if (ready?.status === 'True') return { ready: true };
  return { ready: false, notReadyBecause: ready?.message ?? 'no Ready condition yet' };
}

export async function listNodes(client: KubeHttpClient): Promise<KubeNodeView[]> {
  const { items = [] } = await client.get<{ items?: Json[] }>('/api/v1/nodes');
  return items.map((node) => {
    const metadata = node.metadata as { name: string; labels?: Record<string, string> };
    const labels = metadata.labels ?? {};
    const status = (node.status ?? {}) as Json;
    const conditions = (status.conditions ?? []) as NodeCondition[];
    const addresses = (status.addresses ?? []) as { type: string; address: string }[];
    return {
      name: metadata.name,
      ...readiness(conditions),
      nodeGroup: labels['eks.amazonaws.com/nodegroup'] ?? labels['alpha.eksctl.io/nodegroup-name'],
      instanceType: labels['node.kubernetes.io/instance-type'] ?? '',
      internalIp: addresses.find((item) => item.type === 'InternalIP')?.address ?? '',
      providerId: ((node.spec ?? {}) as { providerID?: string }).providerID ?? '',
    };
  });
}

export interface CloudSession {
  readonly settings: HomeAwsSettings;
  readonly ec2: EC2Client;
  readonly clusterName: string;
  readonly placement: ClusterPlacement;
  readonly vpcId: string;
  readonly endpoint: string;
  close(): void;
}

function placementOf(
  clusterName: string,
  vpc: { clusterSecurityGroupId?: string; subnetIds?: string[] } | undefined,
  nodeRole: string | undefined,
): ClusterPlacement {
  return {
    clusterName,
    clusterSecurityGroupId: vpc?.clusterSecurityGroupId ?? '',
    subnetIds: vpc?.subnetIds ?? [],
    ...(nodeRole ? { instanceProfileName: nodeRole } : {}),
  };
}

/** The cloud's view of the cluster: its name, VPC, cluster group, subnets and node role. */
export async function openCloudSession(home: string): Promise<CloudSession | undefined> {
  const settings = readHomeAwsSettings(home);
  if (!settings) return undefined;
  const ec2 = await homeEc2Client(settings);
  const eks = await homeEksClient(settings);
  const { IAMClient, ListRolesCommand } = await import('@aws-sdk/client-iam');
  const { ListClustersCommand, DescribeClusterCommand } = await import('@aws-sdk/client-eks');
  const iam = new IAMClient({
    region: settings.region,
    endpoint: settings.endpoint,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
  });
  try {
    const [clusterName = ''] = (await eks.send(new ListClustersCommand({}))).clusters ?? [];
    const { cluster } = await eks.send(new DescribeClusterCommand({ name: clusterName }));
    const { Roles = [] } = await iam.send(new ListRolesCommand({}));
    const nodeRole = Roles.find((role) => role.RoleName?.includes('NodeInstanceRole'))?.RoleName;
    return {
      settings,
      ec2,
      clusterName,
      vpcId: cluster?.resourcesVpcConfig?.vpcId ?? '',
      endpoint: cluster?.endpoint ?? '',
      placement: placementOf(clusterName, cluster?.resourcesVpcConfig, nodeRole),
      close: () => {
        ec2.destroy();
      },
    };
  } finally {
    eks.destroy();
    iam.destroy();
  }
}

/** Waits until every named group has `count` Ready nodes (and no others are wanted). */
export async function waitForNodeGroups(
  client: KubeHttpClient,
  wanted: ReadonlyMap<string, number>,
  timeoutMs: number,
): Promise<KubeNodeView[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = await listNodes(client);
    const satisfied = [...wanted].every(
      ([group, count]) =>
        nodes.filter((node) => node.nodeGroup === group && node.ready).length >= count &&
        nodes.filter((node) => node.nodeGroup === group).length === count,
    );
    if (satisfied) return nodes;
    if (Date.now() > deadline) {
      const summary = [...wanted]
        .map(
          ([group, count]) =>
            `${group}: ${String(nodes.filter((node) => node.nodeGroup === group && node.ready).length)}/${String(count)} Ready, ${String(nodes.filter((node) => node.nodeGroup === group).length)} registered`,
        )
        .join(', ');
      const why = nodes
        .filter((node) => !node.ready)
        .map((node) => `\n  ${node.name}: ${node.notReadyBecause ?? ''}`)
        .join('');
      throw new Error(
        `node groups not ready within ${String(timeoutMs / 1000)} s (${summary})${why}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
