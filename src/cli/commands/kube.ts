/**
 * `sgpods kube`: the home's local Kubernetes cluster in the foreground (root: nodes and pods
 * are network namespaces). SIGTERM or SIGINT stop the cluster's processes; pods keep running and
 * the next `sgpods kube` adopts them; `sgpods down` removes everything.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  isRunning,
  readPidFile,
  runDirectory,
  writePidFile,
} from '../../adapters/process/pid-file.js';
import {
  awsEnvPath,
  homeEc2Client,
  homeEksClient,
  readHomeAwsSettings,
} from '../../adapters/aws/home-aws.js';
import { InputError } from '../../core/errors.js';
import type { CloudNodesOptions } from '../../servers/kube/runtime/kube-cluster.js';
import { instanceTypeLimits } from '../../core/instance-types/instance-types.js';
import { bundledCrdDirectory } from '../../servers/kube/kube-api-server.js';
import { maxStandaloneNodes } from '../../servers/kube/runtime/cluster-network.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { crdManifests } from './kube-apiserver.js';
import { untilStopped } from '../until-stopped.js';

export interface KubeOptions {
  readonly home: string;
  readonly nodes: number;
  readonly port?: number;
  readonly instanceType: string;
  readonly upstreamDns?: string;
  /** Nodes are the cloud's instances of the cluster's node groups (the home's cloud must run). */
  readonly sandbox?: boolean;
}

/** What the sandbox's cluster needs from the home's cloud, asked through its APIs. */
async function cloudNodesOf(home: string): Promise<CloudNodesOptions> {
  const settings = readHomeAwsSettings(home);
  if (!settings)
    throw new InputError(
      `the home's cloud is not running (no ${awsEnvPath(home)}); start it first (sgpods up does)`,
    );
  const ec2 = await homeEc2Client(settings);
  const eks = await homeEksClient(settings);
  const { ListClustersCommand, DescribeClusterCommand } = await import('@aws-sdk/client-eks');
  const { DescribeNetworkInterfacesCommand } = await import('@aws-sdk/client-ec2');
  const [clusterName = ''] = (await eks.send(new ListClustersCommand({}))).clusters ?? [];
  const { cluster } = await eks.send(new DescribeClusterCommand({ name: clusterName }));
  eks.destroy();
  const { NetworkInterfaces = [] } = await ec2.send(
    new DescribeNetworkInterfacesCommand({
      Filters: [{ Name: 'description', Values: [`Amazon EKS ${clusterName}`] }],
    }),
  );
  const apiAddress = NetworkInterfaces[0]?.PrivateIpAddress;
  if (!cluster?.endpoint || !apiAddress)
    throw new Error(`the cloud has no control-plane interface for cluster ${clusterName}`);
  return {
    ec2,
    clusterName,
    region: settings.region,
    apiAddress,
    apiEndpoint: cluster.endpoint,
    vpcId: cluster.resourcesVpcConfig?.vpcId ?? '',
  };
}

function checkOptions(options: KubeOptions): void {
  if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > maxStandaloneNodes)
    throw new InputError(`--nodes must be between 1 and ${maxStandaloneNodes}`);
  if (!instanceTypeLimits(options.instanceType))
    throw new InputError(`unknown instance type "${options.instanceType}"`);
  if (options.upstreamDns !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(options.upstreamDns))
    throw new InputError(`--upstream-dns must be an IPv4 address, not "${options.upstreamDns}"`);
}

export async function runKube(options: KubeOptions): Promise<ExitCode> {
  checkOptions(options);
  if (process.getuid?.() !== 0)
    throw new InputError(
      'sgpods kube makes network namespaces for nodes and pods, which needs root',
    );
  for (const name of ['kube', 'kube-apiserver']) {
    const running = readPidFile(join(runDirectory(options.home), `${name}.pid`));
    if (running && isRunning(running)) {
      process.stderr.write(
        `kube: already running for this home (pid ${running.pid}); stop it with sgpods down\n`,
      );
      return exitCodes.badInput;
    }
  }
  mkdirSync(options.home, { recursive: true, mode: 0o755 });
  const { startKubeCluster } = await import('../../servers/kube/runtime/kube-cluster.js');
  const cloud = options.sandbox ? await cloudNodesOf(options.home) : undefined;
  const cluster = await startKubeCluster({
    home: options.home,
    ...(cloud ? { cloud } : {}),
    nodes: options.nodes,
    instanceType: options.instanceType,
    ...(options.upstreamDns !== undefined ? { upstreamDns: options.upstreamDns } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    apiServer: { crdManifests: crdManifests(bundledCrdDirectory) },
    onError: (error) => {
      process.stderr.write(`kube: ${error instanceof Error ? error.message : String(error)}\n`);
    },
  });
  const pidFile = writePidFile(options.home, 'kube');
  process.stdout.write(
    `kube: serving ${cluster.server.url} with ${cluster.nodeNames().length} node(s) (${cluster.nodeNames().join(', ')}); export KUBECONFIG=${cluster.kubeconfigPath}\n`,
  );
  await untilStopped();
  await cluster.close();
  rmSync(pidFile, { force: true });
  return exitCodes.success;
}
