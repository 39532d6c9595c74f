/**
 * Flow logs (root: namespaces, nftables, tcpdump): from a connection attempt inside an instance
 * to its record in `<home>/flow-logs/flows.log` — a SYN the target's group drops (REJECT at the
 * target's ENI) and one it admits (ACCEPT) — p50/p99 over rounds, each with its own port so the
 * record is unambiguous. The capture window (1 s) is the floor every record waits for.
 */
import { existsSync, readFileSync } from 'node:fs';
import {
  CreateSecurityGroupCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { runCommand } from '../src/adapters/exec/run-command.js';
import { startCloudEndpoint } from '../src/servers/cloud/cloud-endpoint.js';
import { CloudService } from '../src/servers/cloud/cloud-service.js';
import { parseFlowRecord } from '../src/core/flows/flow-records.js';
import { flowLogPathOf } from '../src/servers/cloud/dataplane/flow-log-collector.js';
import { inRootHome, until } from './support/root-home.js';
import { percentile } from './random.js';
import type { Benchmark } from './run.js';

const rounds = 20;

export const flowsBenchmark: Benchmark = {
  name: 'flows',
  run() {
    return inRootHome('flows', 'namespaces, nftables, tcpdump', measure);
  },
};

async function measure(home: string): Promise<Record<string, number>> {
  const service = await CloudService.open({ home, dataplane: true });
  const endpoint = await startCloudEndpoint({
    credentials: service.credentials,
    ec2: (action, params) => service.ec2(action, params),
  });
  const client = new EC2Client({
    endpoint: endpoint.url,
    region: service.region,
    credentials: service.credentials,
    maxAttempts: 1,
  });
  try {
    const subnet = service.network.privateSubnetIds[0] ?? '';
    const { GroupId: closed = '' } = await client.send(
      new CreateSecurityGroupCommand({
        GroupName: 'closed',
        Description: 'no ingress',
        VpcId: service.network.vpcId,
      }),
    );
    const launch = async (groups?: string[]) => {
      const { Instances = [] } = await client.send(
        new RunInstancesCommand({
          ImageId: 'ami-0123456789abcdef0',
          InstanceType: 'm5.large',
          MinCount: 1,
          MaxCount: 1,
          SubnetId: subnet,
          ...(groups ? { SecurityGroupIds: groups } : {}),
        }),
      );
      return Instances[0]?.InstanceId ?? '';
    };
    // The VPC's default group admits itself: the source and the open target carry it.
    const ids = [await launch(), await launch(), await launch([closed])];
    const addresses: string[] = [];
    await until(async () => {
      const { Reservations = [] } = await client.send(
        new DescribeInstancesCommand({ InstanceIds: ids }),
      );
      const instances = Reservations.flatMap((reservation) => reservation.Instances ?? []);
      addresses.splice(
        0,
        3,
        ...ids.map((id) => instances.find((i) => i.InstanceId === id)?.PrivateIpAddress ?? ''),
      );
      return instances.every((instance) => instance.State?.Name === 'running');
    }, 30_000);
    const [, open = '', shut = ''] = addresses;
    const source = service.instanceNamespaceOf(ids[0] ?? '');
    const path = flowLogPathOf(home);
    const recorded = (target: string, port: number, action: string) =>
      existsSync(path) &&
      readFileSync(path, 'utf8')
        .split('\n')
        .map(parseFlowRecord)
        .some(
          (record) =>
            record?.destination === target &&
            record.destinationPort === port &&
            record.action === action,
        );
    const attempt = async (target: string, port: number, action: string): Promise<number> => {
      const started = performance.now();
      void runCommand(
        [
          'ip',
          'netns',
          'exec',
          source,
          'timeout',
          '1',
          'bash',
          '--norc',
          '-c',
          `exec 3<>/dev/tcp/${target}/${String(port)}`,
        ],
        { okExitCodes: Array.from({ length: 256 }, (_, code) => code) },
      );
      await until(() => recorded(target, port, action), 10_000);
      return performance.now() - started;
    };
    const rejected: number[] = [];
    const accepted: number[] = [];
    for (let round = 0; round < rounds; round++) {
      rejected.push(await attempt(shut, 20_000 + round, 'REJECT'));
      accepted.push(await attempt(open, 21_000 + round, 'ACCEPT'));
    }
    rejected.sort((a, b) => a - b);
    accepted.sort((a, b) => a - b);
    return {
      flows_reject_to_record_p50_ms: percentile(rejected, 50),
      flows_reject_to_record_p99_ms: percentile(rejected, 99),
      flows_accept_to_record_p50_ms: percentile(accepted, 50),
      flows_accept_to_record_p99_ms: percentile(accepted, 99),
      flows_capture_window_ms: 1000,
    };
  } finally {
    client.destroy();
    await endpoint.close();
    await service.close();
  }
}
