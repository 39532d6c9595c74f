/**
 * `sgpods kube`: a whole local cluster in one process — the API server, the workload
 * controllers and the scheduler (clients of the API over HTTPS, like kube-controller-manager
 * and kube-scheduler), and one kubelet per node, each node a network namespace of the
 * standalone cluster network. Pods keep running when the process dies; the next start adopts
 * them, and removes pod namespaces nobody owns.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { fileURLToPath } from 'node:url';
import { installPluginLauncher } from '../../../adapters/cni/plugin-launcher.js';
import { egressPreamble } from '../../../adapters/relay/socket-relay.js';
import {
  controlPlaneEgressSocketPath,
  kubeApiSocketPath,
} from '../../../adapters/process/home-sockets.js';
import { ImageCatalogue } from '../../../adapters/images/image-catalogue.js';
import { KubeHttpClient } from '../../../adapters/kube/kube-http-client.js';
import { listNamespaces } from '../../../adapters/netns/netns.js';
import { removeNamespace } from '../../../adapters/netns/sweep.js';
import {
  runDirectory,
  startTimeOf,
  stopRegisteredProcess,
} from '../../../adapters/process/pid-file.js';
import { nodeCapacity } from '../../../core/eks/node-identity.js';
import { kernelPrefix } from '../../../core/kernel-names.js';
import { ensureTokens } from '../authentication.js';
import type { ServiceNetwork } from '../service-endpoints.js';
import {
  startKubeApiServer,
  type KubeApiServer,
  type KubeApiServerOptions,
} from '../kube-api-server.js';
import { cniDel, type CniNode } from './cni/cni-runner.js';
import { ensureClusterAddons } from './cluster-addons.js';
import { ClusterInformers } from './cluster-informers.js';
import { ClusterNodes } from './cluster-nodes.js';
import {
  apiServerAddress,
  ensureClusterNetwork,
  routerNamespaceOf,
  type ClusterNode,
} from './cluster-network.js';
import { DaemonSetController } from './daemonset-controller.js';
import { DeploymentController } from './deployment-controller.js';
import { EndpointsController } from './endpoints-controller.js';
import { EventRecorder } from './event-recorder.js';
import type { Kubelet, NodeDescription } from './kubelet/kubelet.js';
import { ReplicaSetController } from './replicaset-controller.js';
import { awsNodeObjects } from './sandbox/aws-node-addon.js';
import { controllerObjects } from './sandbox/controller-addon.js';
import { InstanceNodes } from './sandbox/instance-nodes.js';
import { Scheduler } from './scheduler.js';
import type { WorkQueue } from '../../../adapters/kube/work-queue.js';

/** Sandbox mode: the nodes are the cloud's instances of the cluster's node groups. */
export interface CloudNodesOptions {
  readonly ec2: EC2Client;
  readonly clusterName: string;
  readonly region: string;
  readonly vpcId: string;
  /** The API server's address inside the VPC (the control-plane interface's primary address). */
  readonly apiAddress: string;
  /** The endpoint DescribeCluster gives (`https://<id>.gr7.<region>.eks.amazonaws.com`). */
  readonly apiEndpoint: string;
  readonly pollMs?: number;
}

export interface KubeClusterOptions {
  readonly home: string;
  /** Standalone nodes on the cluster network (ignored with `cloud`). */
  readonly nodes: number;
  readonly cloud?: CloudNodesOptions;
  readonly port?: number;
  /** EC2 instance type the nodes pretend to be (capacity, max pods, labels). */
  readonly instanceType?: string;
  readonly region?: string;
  /** The nodes' resolver (their resolv.conf): where cluster DNS forwards other names. */
  readonly upstreamDns?: string;
  readonly apiServer?: Omit<KubeApiServerOptions, 'home' | 'port'>;
  readonly onError?: (error: unknown) => void;
}

export interface KubeCluster {
  readonly server: KubeApiServer;
  readonly kubeconfigPath: string;
  /** The nodes running now (in the sandbox they come and go with their instances). */
  nodeNames(): string[];
  /** Resolves when every controller queue is empty (pods may still be starting). */
  idle(): Promise<void>;
  /** Stops the cluster's processes; pods keep running for the next start to adopt. */
  close(): Promise<void>;
}

const pluginMain = fileURLToPath(new URL('./cni/ptp-plugin-main.js', import.meta.url));
const forwarderMain = fileURLToPath(new URL('./api-forwarder-main.js', import.meta.url));
/** The port pods reach the API server on (the `kubernetes` Service's target port). */
const apiServerPort = 443;

/** The node's CNI directories: our default plugin and a configuration for its pod range. */
function installCni(home: string, name: string, node: ClusterNode): CniNode {
  const base = join(home, 'kube', 'nodes', name, 'cni');
  const confDir = join(base, 'net.d');
  const binDir = join(base, 'bin');
  mkdirSync(confDir, { recursive: true });
  installPluginLauncher(binDir, 'sgpods-ptp', pluginMain);
  writeFileSync(
    join(confDir, '10-sgpods.conflist'),
    `${JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: 'sgpods',
        plugins: [
          {
            type: 'sgpods-ptp',
            ipam: { subnet: node.podCidr, dataDir: join(base, 'ipam') },
          },
        ],
      },
      null,
      2,
    )}\n`,
  );
  return { namespace: node.namespace, confDir, binDir };
}

function nodeDescription(node: ClusterNode, instanceType: string, region: string): NodeDescription {
  const zone = `${region}${'abc'[(node.index - 1) % 3] ?? 'a'}`;
  return {
    name: `node-${node.index}`,
    internalIp: node.internalIp,
    podCidr: node.podCidr,
    labels: {
      'node.kubernetes.io/instance-type': instanceType,
      'beta.kubernetes.io/instance-type': instanceType,
      'topology.kubernetes.io/region': region,
      'topology.kubernetes.io/zone': zone,
      'failure-domain.beta.kubernetes.io/region': region,
      'failure-domain.beta.kubernetes.io/zone': zone,
    },
    capacity: {
      ...nodeCapacity(instanceType),
      'ephemeral-storage': '20959212Ki',
      'hugepages-1Gi': '0',
      'hugepages-2Mi': '0',
    },
  };
}

export async function startKubeCluster(options: KubeClusterOptions): Promise<KubeCluster> {
  const { home, cloud } = options;
  const prefix = kernelPrefix(home);
  const report = options.onError ?? (() => undefined);
  const socketPath = kubeApiSocketPath(home);
  mkdirSync(runDirectory(home), { recursive: true });
  const advertised = cloud?.apiAddress ?? apiServerAddress;
  const server = await startKubeApiServer({
    home,
    ...options.apiServer,
    ...(options.port !== undefined ? { port: options.port } : {}),
    socketPath,
    advertise: { address: advertised, port: apiServerPort },
    ...(cloud ? { serviceNetwork: controlPlaneEgress(home) } : {}),
    certificateNames: cloud
      ? [cloud.apiAddress, new URL(cloud.apiEndpoint).hostname]
      : [apiServerAddress],
  });
  const clusterCa = readFileSync(join(home, 'pki', 'ca.crt'), 'utf8');
  const connection = (component: string): KubeHttpClient =>
    new KubeHttpClient({
      url: server.url,
      token: ensureTokens(home).adminToken,
      ca: clusterCa,
      userAgent: `${component}/v1.32.0 (linux/amd64) sgpods`,
    });
  if (cloud) writeInVpcKubeconfig(home, server.kubeconfigPath, cloud.apiEndpoint);

  const controllerClient = connection('kube-controller-manager');
  const informers = new ClusterInformers(controllerClient, report);
  const schedulerClient = connection('kube-scheduler');
  const queues = startControllers(controllerClient, schedulerClient, informers, report);

  const kubeletClient = connection('kubelet');
  const nodes = new ClusterNodes({
    home,
    prefix,
    client: kubeletClient,
    catalogue: ImageCatalogue.load(),
    clusterCa,
    informers,
    onError: report,
  });
  let follower: InstanceNodes | undefined;
  if (cloud) {
    follower = new InstanceNodes({
      home,
      prefix,
      region: cloud.region,
      clusterName: cloud.clusterName,
      ec2: cloud.ec2,
      nodes,
      client: kubeletClient,
      ...(cloud.pollMs !== undefined ? { pollMs: cloud.pollMs } : {}),
      onError: report,
    });
    await follower.start();
  } else {
    const instanceType = options.instanceType ?? 't3.large';
    const region = options.region ?? 'us-west-2';
    const network = await ensureClusterNetwork(prefix, options.nodes);
    await startApiForwarder(home, routerNamespaceOf(prefix), socketPath);
    for (const node of network) writeNodeResolvConf(node.namespace, options.upstreamDns);
    await Promise.all(
      network.map((node) => {
        const description = nodeDescription(node, instanceType, region);
        return nodes.add({
          description,
          namespace: node.namespace,
          cni: installCni(home, description.name, node),
        });
      }),
    );
  }
  await sweepOrphanPods(prefix, nodes.kubelets());
  await informers.start();
  await nodes.startProxies();
  await ensureClusterAddons(
    controllerClient,
    cloud
      ? [
          ...awsNodeObjects(home, cloud.region),
          ...controllerObjects({
            clusterName: cloud.clusterName,
            vpcId: cloud.vpcId,
            region: cloud.region,
          }),
        ]
      : [],
  );

  return {
    server,
    kubeconfigPath: server.kubeconfigPath,
    nodeNames: () => nodes.names(),
    idle: async () => {
      await Promise.all(queues.map((queue) => queue.idle()));
    },
    close: async () => {
      await follower?.close();
      for (const queue of queues) queue.close();
      informers.stop();
      await nodes.close();
      for (const client of [controllerClient, schedulerClient, kubeletClient]) client.close();
      await server.close();
    },
  };
}

/** kube-controller-manager's and kube-scheduler's loops, as clients of the API. */
function startControllers(
  controllerClient: KubeHttpClient,
  schedulerClient: KubeHttpClient,
  informers: ClusterInformers,
  report: (error: unknown) => void,
): WorkQueue[] {
  const recorder = (client: KubeHttpClient, component: string) =>
    new EventRecorder(client, { component }, report);
  return [
    new DeploymentController(
      controllerClient,
      informers,
      recorder(controllerClient, 'deployment-controller'),
      report,
    ).queue,
    new ReplicaSetController(
      controllerClient,
      informers,
      recorder(controllerClient, 'replicaset-controller'),
      report,
    ).queue,
    new DaemonSetController(
      controllerClient,
      informers,
      recorder(controllerClient, 'daemonset-controller'),
      report,
    ).queue,
    new EndpointsController(controllerClient, informers, report).queue,
    new Scheduler(
      schedulerClient,
      informers,
      recorder(schedulerClient, 'default-scheduler'),
      report,
    ).queue,
  ];
}

/** Connections into the VPC through the control plane's namespace (the cloud relays them). */
function controlPlaneEgress(home: string): ServiceNetwork {
  const socketPath = controlPlaneEgressSocketPath(home);
  return {
    connect: (address, port) => {
      const socket = netConnect(socketPath);
      socket.write(egressPreamble(address, port));
      return socket;
    },
  };
}

/**
 * The kubeconfig for clients inside the VPC (pods, the workstation): the host's, with the
 * endpoint's name instead of the loopback address — the only difference between the two.
 */
function writeInVpcKubeconfig(home: string, hostKubeconfig: string, server: string): void {
  mkdirSync(join(home, 'kube'), { recursive: true });
  const text = readFileSync(hostKubeconfig, 'utf8').replace(
    /server: https:\/\/127\.0\.0\.1:\d+/,
    `server: ${server}`,
  );
  writeFileSync(join(home, 'kube', 'kubeconfig-in-vpc'), text, { mode: 0o600 });
}

/** The node's /etc/netns resolv.conf: its upstream resolver, or none. */
function writeNodeResolvConf(namespace: string, upstream: string | undefined): void {
  const directory = join('/etc/netns', namespace);
  const path = join(directory, 'resolv.conf');
  if (upstream === undefined) {
    rmSync(path, { force: true });
    return;
  }
  mkdirSync(directory, { recursive: true });
  writeFileSync(path, `nameserver ${upstream}\n`);
}

/** The forwarder of the API server into the cluster network (replacing a previous one). */
async function startApiForwarder(home: string, router: string, socketPath: string): Promise<void> {
  await stopRegisteredProcess(home, 'kube-api-forwarder', 5_000);
  const main = existsSync(forwarderMain)
    ? [forwarderMain]
    : ['--import', 'tsx', forwarderMain.replace(/\.js$/, '.ts')];
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      router,
      process.execPath,
      ...main,
      apiServerAddress,
      String(apiServerPort),
      socketPath,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`the API forwarder exited with ${String(code)}`));
    });
    child.stdout.once('data', () => {
      resolve();
    });
  });
  child.removeAllListeners('exit');
  child.stdout.destroy();
  child.unref();
  writeFileSync(
    join(runDirectory(home), 'kube-api-forwarder.pid'),
    `${String(child.pid)} ${startTimeOf(child.pid ?? 0)}\n`,
  );
}

/**
 * Pod namespaces and addresses no kubelet owns (their pod went while nothing ran and no record
 * was left, e.g. a kill between sandbox and record): removed, addresses released.
 */
async function sweepOrphanPods(prefix: string, kubelets: readonly Kubelet[]): Promise<void> {
  const owned = new Set(kubelets.flatMap((kubelet) => kubelet.podNamespaces()));
  const podPrefix = `${prefix}p`;
  for (const namespace of await listNamespaces()) {
    if (namespace.startsWith(podPrefix) && !owned.has(namespace)) await removeNamespace(namespace);
  }
  for (const { cni } of kubelets.map((kubelet) => kubelet.options)) {
    const ipam = join(cni.confDir, '..', 'ipam');
    if (!existsSync(ipam)) continue;
    for (const address of readdirSync(ipam)) {
      const containerId = readFileSync(join(ipam, address), 'utf8').split('\n')[0] ?? '';
      if (kubelets.some((kubelet) => kubelet.sandboxIds().includes(containerId))) continue;
      await cniDel(cni, {
        containerId,
        netns: `/run/netns/${podPrefix}gone`,
        ifname: 'eth0',
      }).catch(() => undefined);
    }
  }
}
