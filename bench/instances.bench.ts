/**
 * Instances of the local cloud (root: namespaces, veth, nftables), through SDK v3:
 *
 * - RunInstances → reachable: from the call until the new instance answers a ping from another
 *   instance of the VPC (its namespace, its port, its groups), p50/p99 over one-at-a-time
 *   launches; side by side, RunInstances → `running` as DescribeInstances reports it;
 * - 200 instances launched at once: until all are `running`, until all answer a ping, and
 *   terminating them all; the resident memory of the cloud process after them.
 */
import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import { runCommand } from '../src/adapters/exec/run-command.js';
import { startCloudEndpoint } from '../src/servers/cloud/cloud-endpoint.js';
import { CloudService } from '../src/servers/cloud/cloud-service.js';
import { inRootHome, until } from './support/root-home.js';
import { percentile } from './random.js';
import type { Benchmark } from './run.js';

const image = 'ami-0123456789abcdef0';
const launches = 30;
const burst = 200;

async function instancesOf(client: EC2Client, ids: readonly string[]): Promise<Instance[]> {
  const found: Instance[] = [];
  for (let index = 0; index < ids.length; index += 200) {
    const page = await client.send(
      new DescribeInstancesCommand({ InstanceIds: ids.slice(index, index + 200) }),
    );
    for (const reservation of page.Reservations ?? []) found.push(...(reservation.Instances ?? []));
  }
  return found;
}

async function pings(namespace: string, address: string): Promise<boolean> {
  const { exitCode } = await runCommand(
    ['ip', 'netns', 'exec', namespace, 'ping', '-c1', '-W1', '-q', address],
    { okExitCodes: [0, 1, 2] },
  );
  return exitCode === 0;
}

export const instancesBenchmark: Benchmark = {
  name: 'instances',
  run() {
    return inRootHome('instances', 'namespaces', measure);
  },
};

async function measure(home: string): Promise<Record<string, number>> {
  const service = await CloudService.open({ home, dataplane: true });
  const endpoint = await startCloudEndpoint({
    credentials: service.credentials,
    ec2: (action, params) => service.ec2(action, params),
    rds: (action, params) => service.rds(action, params),
    iam: (action, params) => service.iam(action, params),
    eks: (request) => service.eks(request),
  });
  const client = new EC2Client({
    endpoint: endpoint.url,
    region: service.region,
    credentials: service.credentials,
    maxAttempts: 1,
  });
  const subnet = service.network.privateSubnetIds[0] ?? '';
  const run = async (count: number): Promise<string[]> => {
    const result = await client.send(
      new RunInstancesCommand({
        ImageId: image,
        InstanceType: 'm5.large',
        MinCount: count,
        MaxCount: count,
        SubnetId: subnet,
      }),
    );
    return (result.Instances ?? []).map((instance) => instance.InstanceId ?? '');
  };
  const results: Record<string, number> = {};
  try {
    // The prober: every instance carries the VPC's default group, which admits itself.
    const [prober = ''] = await run(1);
    await until(
      async () => (await instancesOf(client, [prober]))[0]?.State?.Name === 'running',
      30_000,
    );
    const proberNamespace = service.instanceNamespaceOf(prober);
    const toRunning: number[] = [];
    const toReachable: number[] = [];
    for (let index = 0; index < launches; index++) {
      const started = performance.now();
      const [id = ''] = await run(1);
      let address = '';
      await until(async () => {
        const instance = (await instancesOf(client, [id]))[0];
        address = instance?.PrivateIpAddress ?? '';
        return instance?.State?.Name === 'running';
      }, 30_000);
      toRunning.push(performance.now() - started);
      await until(() => pings(proberNamespace, address), 30_000);
      toReachable.push(performance.now() - started);
    }
    toRunning.sort((a, b) => a - b);
    toReachable.sort((a, b) => a - b);
    results.run_to_running_p50_ms = percentile(toRunning, 50);
    results.run_to_running_p99_ms = percentile(toRunning, 99);
    results.run_to_reachable_p50_ms = percentile(toReachable, 50);
    results.run_to_reachable_p99_ms = percentile(toReachable, 99);

    const started = performance.now();
    const ids = await run(burst);
    results.run_200_call_ms = performance.now() - started;
    let addresses: string[] = [];
    await until(
      async () => {
        const instances = await instancesOf(client, ids);
        addresses = instances.map((instance) => instance.PrivateIpAddress ?? '');
        return instances.every((instance) => instance.State?.Name === 'running');
      },
      600_000,
      100,
    );
    results.run_200_all_running_ms = performance.now() - started;
    for (let index = 0; index < addresses.length; index += 20) {
      await Promise.all(
        addresses
          .slice(index, index + 20)
          .map((address) => until(() => pings(proberNamespace, address), 60_000)),
      );
    }
    results.run_200_all_reachable_ms = performance.now() - started;
    results.cloud_rss_after_231_instances_mib = process.memoryUsage().rss / 2 ** 20;
    const terminating = performance.now();
    await client.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    await until(
      async () =>
        (await instancesOf(client, ids)).every((instance) => instance.State?.Name === 'terminated'),
      600_000,
    );
    results.terminate_200_all_terminated_ms = performance.now() - terminating;
  } finally {
    client.destroy();
    await endpoint.close();
    await service.close();
  }
  return results;
}
