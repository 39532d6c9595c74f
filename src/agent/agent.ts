/**
 * The node agent (`aws-node`'s role): runs in the node's network namespace (a hostNetwork
 * DaemonSet pod), learns its instance from the metadata service, talks to EC2 with the SDK's
 * default credentials and endpoint (instance role credentials; the endpoint name resolves to
 * the VPC's interface endpoint in the sandbox) and to the API server as its service account,
 * serves the CNI plugin over a unix socket, tells the controller whether the node wants security
 * groups for pods, and installs the plugin and its configuration into the node's CNI directories.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setUpNodeForBranchPods } from '../adapters/cni/branch-wiring.js';
import { inClusterConnection } from '../adapters/kube/in-cluster.js';
import { KubeHttpClient } from '../adapters/kube/kube-http-client.js';
import type { AgentSettings } from './agent-settings.js';
import { installCni } from './cni-install.js';
import { readInstanceFacts } from './instance-metadata.js';
import { AgentMetrics } from './agent-metrics.js';
import { IpamDaemon } from './ipam-daemon.js';
import { NodeFeatures } from './node-features.js';
import { PodIsolation } from './pod-isolation.js';
import { PodNetworks } from './pod-networks.js';

export { agentSettingsFrom, type AgentSettings } from './agent-settings.js';

export interface RunningAgent {
  close(): Promise<void>;
}

export async function startAgent(
  settings: AgentSettings,
  log: (message: string) => void,
): Promise<RunningAgent> {
  const instance = await readInstanceFacts();
  log(
    `instance ${instance.instanceId} (${instance.instanceType}), ENI ${instance.primaryInterfaceId}; ENABLE_POD_ENI=${String(settings.enablePodEni)}, POD_SECURITY_GROUP_ENFORCING_MODE=${settings.enforcingMode}`,
  );
  const { EC2Client } = await import('@aws-sdk/client-ec2');
  const ec2 = new EC2Client({ region: settings.region ?? instance.region, maxAttempts: 5 });
  const kube = new KubeHttpClient(inClusterConnection('aws-node'));
  const directory = join(settings.stateDir, instance.instanceId);
  mkdirSync(directory, { recursive: true });
  const socketPath = join(directory, 'ipamd.sock');
  const features = new NodeFeatures({
    kube,
    ec2,
    nodeName: settings.nodeName,
    instanceId: instance.instanceId,
    instanceType: instance.instanceType,
    enablePodEni: settings.enablePodEni,
    log,
  });
  await setUpNodeForBranchPods(features.wanted && settings.enforcingMode === 'strict');
  let pool = () => ({ assigned: 0, total: 0 });
  const metrics = new AgentMetrics({
    assigned: () => pool().assigned,
    total: () => pool().total,
  });
  const ipam = new IpamDaemon({
    ec2,
    interfaceId: instance.primaryInterfaceId,
    poolFile: join(directory, 'ipam.json'),
    socketPath,
    warmTarget: settings.warmIpTarget,
    planner: new PodNetworks({ kube, annotationWaitMs: 10_000 }),
    enforcingMode: settings.enforcingMode,
    onAdd: (outcome) => {
      metrics.observeAdd(outcome);
    },
    onDel: () => {
      metrics.observeDel();
    },
    onError: (error) => {
      log(`ipamd: ${error instanceof Error ? error.message : String(error)}`);
    },
  });
  await ipam.start();
  pool = () => ipam.poolSize();
  // Metrics are not worth a node without pod networking: a busy port is logged, not fatal.
  const metricsServer = await metrics.serve().catch((error: unknown) => {
    log(`metrics: not served: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  });
  installCni(settings.cniBinDir, settings.cniConfDir, {
    ipamSocket: socketPath,
    stateDir: join(directory, 'pods'),
    enforcingMode: settings.enforcingMode,
  });
  log(`serving the CNI plugin on ${socketPath}; CNI installed in ${settings.cniConfDir}`);
  features.start();
  const isolation = new PodIsolation({
    kube,
    nodeName: settings.nodeName,
    regularPods: () => ipam.regularPods(),
    log,
  });
  isolation.start();
  return {
    close: async () => {
      isolation.close();
      features.close();
      await ipam.close();
      metricsServer?.close();
      ec2.destroy();
      kube.close();
    },
  };
}
