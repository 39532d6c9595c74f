/**
 * `sgpods nodegroup create|delete`: eksctl's node group commands on the home's sandbox.
 * `create -f cluster.yaml` launches the file's node groups as EC2 instances of the cluster and
 * returns when their nodes are Ready (groups that already exist are left out, as eksctl does);
 * `delete -f cluster.yaml` or `delete --name NAME` terminates a group's instances and returns
 * when its nodes are gone. The home's saved cluster config follows, so `up` keeps them.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readClusterConfig } from '../../adapters/eks/cluster-config-file.js';
import type { ClusterConfig, NodeGroupConfig } from '../../core/eks/cluster-config.js';
import { InputError } from '../../core/errors.js';
import {
  deleteNodeGroup,
  nodeInstances,
  scaleNodeGroup,
} from '../../servers/kube/runtime/sandbox/node-groups.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import {
  kubeClientOf,
  listNodes,
  openCloudSession,
  waitForNodeGroups,
  type CloudSession,
} from '../sandbox/sandbox-session.js';
import { clusterConfigPathOf } from './up.js';

export interface NodeGroupOptions {
  readonly home: string;
  readonly file?: string;
  readonly name?: string;
  readonly timeoutMs?: number;
}

function savedConfig(home: string): ClusterConfig {
  const path = clusterConfigPathOf(home);
  if (!existsSync(path))
    throw new InputError(`no cluster runs in ${home}; start one with sgpods up`);
  return JSON.parse(readFileSync(path, 'utf8')) as ClusterConfig;
}

function saveGroups(home: string, config: ClusterConfig, groups: readonly NodeGroupConfig[]): void {
  writeFileSync(
    clusterConfigPathOf(home),
    `${JSON.stringify({ ...config, nodeGroups: groups }, null, 2)}\n`,
  );
}

async function session(home: string): Promise<CloudSession> {
  const opened = await openCloudSession(home);
  if (!opened)
    throw new InputError(`the sandbox of ${home} is not running; start it with sgpods up`);
  return opened;
}

function checkedFile(home: string, file: string): { saved: ClusterConfig; wanted: ClusterConfig } {
  const saved = savedConfig(home);
  const wanted = readClusterConfig(file);
  if (wanted.name !== saved.name || wanted.region !== saved.region)
    throw new InputError(
      `cluster "${wanted.name}" in ${wanted.region} does not exist here (this home runs "${saved.name}" in ${saved.region})`,
    );
  return { saved, wanted };
}

export async function runNodeGroupCreate(options: NodeGroupOptions): Promise<ExitCode> {
  const { home } = options;
  if (!options.file) throw new InputError('nodegroup create needs -f <cluster.yaml>');
  const { saved, wanted } = checkedFile(home, options.file);
  const cloud = await session(home);
  const client = kubeClientOf(home);
  if (!client)
    throw new InputError(`the cluster of ${home} is not running; start it with sgpods up`);
  try {
    const running = new Set(
      (await nodeInstances(cloud.ec2, cloud.clusterName)).map((node) => node.nodeGroup),
    );
    const fresh = wanted.nodeGroups.filter((group) => !running.has(group.name));
    for (const group of wanted.nodeGroups.filter((item) => running.has(item.name)))
      process.stdout.write(`nodegroup: existing nodegroup ${group.name} will be excluded\n`);
    for (const group of fresh) {
      process.stdout.write(
        `nodegroup: creating ${group.name}: ${String(group.desiredCapacity)} × ${group.instanceType}\n`,
      );
      await scaleNodeGroup(cloud.ec2, cloud.placement, group);
    }
    saveGroups(home, saved, [
      ...saved.nodeGroups.filter((group) => !fresh.some((item) => item.name === group.name)),
      ...fresh,
    ]);
    const nodes = await waitForNodeGroups(
      client,
      new Map(fresh.map((group) => [group.name, group.desiredCapacity])),
      options.timeoutMs ?? 180_000,
    );
    for (const node of nodes.filter((item) => fresh.some((group) => group.name === item.nodeGroup)))
      process.stdout.write(`nodegroup: node ${node.name} (${node.nodeGroup ?? ''}) is Ready\n`);
  } finally {
    cloud.close();
    client.close();
  }
  return exitCodes.success;
}

export async function runNodeGroupDelete(options: NodeGroupOptions): Promise<ExitCode> {
  const { home } = options;
  const saved = savedConfig(home);
  const names = options.file
    ? checkedFile(home, options.file).wanted.nodeGroups.map((group) => group.name)
    : options.name
      ? [options.name]
      : [];
  if (names.length === 0)
    throw new InputError('nodegroup delete needs -f <cluster.yaml> or --name');
  const cloud = await session(home);
  const client = kubeClientOf(home);
  try {
    for (const name of names) {
      const ids = await deleteNodeGroup(cloud.ec2, cloud.clusterName, name);
      if (ids.length === 0 && !saved.nodeGroups.some((group) => group.name === name))
        throw new InputError(`nodegroup "${name}" not found in cluster "${saved.name}"`);
      process.stdout.write(
        `nodegroup: deleting ${name}: terminating ${ids.join(', ') || 'no instances'}\n`,
      );
    }
    saveGroups(
      home,
      saved,
      saved.nodeGroups.filter((group) => !names.includes(group.name)),
    );
    if (client) await waitForNodesGone(client, names, options.timeoutMs ?? 180_000);
  } finally {
    cloud.close();
    client?.close();
  }
  process.stdout.write(`nodegroup: deleted ${names.join(', ')}\n`);
  return exitCodes.success;
}

async function waitForNodesGone(
  client: NonNullable<ReturnType<typeof kubeClientOf>>,
  groups: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = (await listNodes(client)).filter(
      (node) => node.nodeGroup !== undefined && groups.includes(node.nodeGroup),
    );
    if (left.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `nodes still present after ${String(timeoutMs / 1000)} s: ${left.map((node) => node.name).join(', ')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
