/**
 * RDS of the local cloud (root: a real PostgreSQL per DB instance), through SDK v3: from
 * CreateDBInstance until DescribeDBInstances says `available`, and until a first query from an
 * instance of the VPC succeeds (name resolved by the VPC resolver, password checked), p50 over
 * a few DBs created one after another (each deleted before the next).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import {
  CreateDBInstanceCommand,
  CreateDBSubnetGroupCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  RDSClient,
  waitUntilDBInstanceDeleted,
} from '@aws-sdk/client-rds';
import { runCommand } from '../src/adapters/exec/run-command.js';
import { sweepOwnedNamespaces } from '../src/adapters/netns/sweep.js';
import { kernelPrefix } from '../src/core/kernel-names.js';
import { startCloudEndpoint } from '../src/servers/cloud/cloud-endpoint.js';
import { CloudService } from '../src/servers/cloud/cloud-service.js';
import { percentile } from './random.js';
import type { Benchmark } from './run.js';

const databases = 5;
const password = 'bench-password-1';

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('benchmark condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function measure(home: string): Promise<Record<string, number>> {
  const service = await CloudService.open({
    home,
    dataplane: true,
    onDataplaneError: (error) => {
      process.stderr.write(`rds bench: dataplane: ${String(error)}\n`);
    },
  });
  const endpoint = await startCloudEndpoint({
    credentials: service.credentials,
    ec2: (action, params) => service.ec2(action, params),
    rds: (action, params) => service.rds(action, params),
  });
  const config = {
    endpoint: endpoint.url,
    region: service.region,
    credentials: service.credentials,
    maxAttempts: 1,
  };
  const ec2 = new EC2Client(config);
  const rds = new RDSClient(config);
  try {
    const { network } = service;
    await rds.send(
      new CreateDBSubnetGroupCommand({
        DBSubnetGroupName: 'bench',
        DBSubnetGroupDescription: 'bench',
        SubnetIds: network.privateSubnetIds.slice(0, 2),
      }),
    );
    // The client carries the VPC's default group, which the DBs carry too (it admits itself).
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0123456789abcdef0',
        InstanceType: 'm5.large',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: network.privateSubnetIds[0],
      }),
    );
    const client = service.instanceNamespaceOf(run.Instances?.[0]?.InstanceId ?? '');
    await service.settle();
    const toAvailable: number[] = [];
    const toQuery: number[] = [];
    for (let index = 0; index < databases; index++) {
      const identifier = `bench-${index}`;
      const started = performance.now();
      await rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: identifier,
          DBInstanceClass: 'db.t3.micro',
          Engine: 'postgres',
          MasterUsername: 'bench',
          MasterUserPassword: password,
          DBName: 'bench',
          DBSubnetGroupName: 'bench',
        }),
      );
      let address = '';
      await until(async () => {
        const described = await rds.send(
          new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }),
        );
        const db = described.DBInstances?.[0];
        address = db?.Endpoint?.Address ?? '';
        return db?.DBInstanceStatus === 'available';
      }, 120_000);
      toAvailable.push(performance.now() - started);
      const url = `postgresql://bench:${password}@${address}:5432/bench`;
      await until(async () => {
        const { exitCode } = await runCommand(
          ['ip', 'netns', 'exec', client, 'psql', url, '-Atc', 'select 1'],
          { okExitCodes: [0, 1, 2] },
        );
        return exitCode === 0;
      }, 120_000);
      toQuery.push(performance.now() - started);
      await rds.send(
        new DeleteDBInstanceCommand({ DBInstanceIdentifier: identifier, SkipFinalSnapshot: true }),
      );
      await waitUntilDBInstanceDeleted(
        { client: rds, maxWaitTime: 120, minDelay: 1, maxDelay: 1 },
        { DBInstanceIdentifier: identifier },
      );
    }
    toAvailable.sort((a, b) => a - b);
    toQuery.sort((a, b) => a - b);
    return {
      create_db_to_available_p50_ms: percentile(toAvailable, 50),
      create_db_to_available_max_ms: toAvailable[toAvailable.length - 1] ?? Number.NaN,
      create_db_to_first_query_p50_ms: percentile(toQuery, 50),
      create_db_to_first_query_max_ms: toQuery[toQuery.length - 1] ?? Number.NaN,
    };
  } finally {
    ec2.destroy();
    rds.destroy();
    await endpoint.close();
    await service.close();
  }
}

export const rdsBenchmark: Benchmark = {
  name: 'rds',
  async run() {
    if (process.getuid?.() !== 0) {
      process.stdout.write('rds: needs root (namespaces, PostgreSQL as postgres); skipped\n');
      return {};
    }
    const home = mkdtempSync(join(tmpdir(), 'sgpods-bench-rds-'));
    // Homes are 0755: PostgreSQL runs as postgres and must reach its data under them.
    chmodSync(home, 0o755);
    try {
      return await measure(home);
    } finally {
      const { runDown } = await import('../src/cli/commands/down.js');
      await runDown({ home, purge: true });
      await sweepOwnedNamespaces(kernelPrefix(home));
      rmSync(home, { recursive: true, force: true });
    }
  },
};
