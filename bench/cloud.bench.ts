/**
 * The local cloud's API through SDK v3 over loopback HTTP, with 2,500 security groups (3 rules
 * each) in the home's SQLite:
 *
 * - DescribeSecurityGroups: the workshop's filtered query (group-name + vpc-id) and the whole
 *   list, p50/p99; baseline side by side: DescribeAvailabilityZones (no state), the floor of
 *   HTTP + SigV4 + XML;
 * - authorize → live: AuthorizeSecurityGroupIngress answers only after the kernel enforces the
 *   rule, so its latency with the dataplane (root) is the time to live; baseline: the same call
 *   on a cloud without dataplane.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeAvailabilityZonesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { deleteNamespace } from '../src/adapters/netns/netns.js';
import { normalizeRule } from '../src/core/sg/rule.js';
import { newGroupRules } from '../src/core/sg/security-group.js';
import { startCloudEndpoint, type CloudEndpoint } from '../src/servers/cloud/cloud-endpoint.js';
import { CloudService, routerNamespaceOf } from '../src/servers/cloud/cloud-service.js';
import { percentile } from './random.js';
import type { Benchmark } from './run.js';

const groupCount = 2500;
const isRoot = process.getuid?.() === 0;

interface BenchCloud {
  readonly home: string;
  readonly service: CloudService;
  readonly endpoint: CloudEndpoint;
  readonly client: EC2Client;
}

async function startCloud(dataplane: boolean): Promise<BenchCloud> {
  const home = mkdtempSync(join(tmpdir(), 'sgpods-bench-cloud-'));
  const service = await CloudService.open({ home, dataplane });
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
  return { home, service, endpoint, client };
}

async function stopCloud(cloud: BenchCloud): Promise<void> {
  cloud.client.destroy();
  await cloud.endpoint.close();
  await cloud.service.close();
  if (cloud.service.router) await deleteNamespace(routerNamespaceOf(cloud.home));
  rmSync(cloud.home, { recursive: true, force: true });
}

/** 2,500 groups (the VPC's two and 2,498 more) with three rules each, written in one transaction (the fill is not measured). */
async function fill(cloud: BenchCloud): Promise<void> {
  const { store, network } = cloud.service;
  store.transaction(() => {
    for (let index = 0; index < groupCount - 2; index++) {
      const groupId = `sg-${(index + 1).toString(16).padStart(17, '0')}`;
      store.insertGroup({
        groupId,
        vpcId: network.vpcId,
        groupName: `bench-${index}`,
        description: 'bench',
        ownerId: '123456789012',
      });
      const rules = [
        ...newGroupRules(groupId),
        normalizeRule(groupId, 'ingress', {
          protocol: 'tcp',
          fromPort: 443,
          toPort: 443,
          cidrIpv4: `10.${index >> 8}.${index & 255}.0/24`,
        }),
        normalizeRule(groupId, 'ingress', {
          protocol: 'tcp',
          fromPort: 5432,
          toPort: 5432,
          referencedGroupId: network.clusterSecurityGroupId,
        }),
      ];
      rules.forEach((rule, position) =>
        store.insertRule(rule, `sgr-${(index * 4 + position).toString(16).padStart(17, '0')}`),
      );
    }
  });
  const router = cloud.service.router;
  if (router) {
    router.setGroups(store.securityGroups());
    await router.flush();
  }
}

async function timed(times: number, call: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < times; index++) {
    const started = performance.now();
    await call();
    samples.push(performance.now() - started);
  }
  return samples.sort((a, b) => a - b);
}

async function authorizeLatencies(cloud: BenchCloud, count: number, first = 0): Promise<number[]> {
  let next = first;
  return timed(count, () => {
    const index = next++;
    return cloud.client.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: `sg-${((index % (groupCount - 2)) + 1).toString(16).padStart(17, '0')}`,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 8000 + index,
            ToPort: 8000 + index,
            IpRanges: [{ CidrIp: `172.16.${index >> 8}.${index & 255}/32` }],
          },
        ],
      }),
    );
  });
}

export const cloudBenchmark: Benchmark = {
  name: 'cloud',
  async run() {
    const results: Record<string, number> = {};
    const api = await startCloud(isRoot);
    try {
      await fill(api);
      const { vpcId } = api.service.network;
      // Warm up the connection and the statements.
      await timed(20, () => api.client.send(new DescribeAvailabilityZonesCommand({})));
      const floor = await timed(300, () =>
        api.client.send(new DescribeAvailabilityZonesCommand({})),
      );
      let name = 0;
      const filtered = await timed(300, () =>
        api.client.send(
          new DescribeSecurityGroupsCommand({
            Filters: [
              { Name: 'group-name', Values: [`bench-${name++ % (groupCount - 2)}`] },
              { Name: 'vpc-id', Values: [vpcId] },
            ],
          }),
        ),
      );
      const everything = await timed(30, () =>
        api.client.send(new DescribeSecurityGroupsCommand({})),
      );
      results.describe_az_baseline_p50_ms = percentile(floor, 50);
      results.describe_az_baseline_p99_ms = percentile(floor, 99);
      results.describe_sg_filtered_2500_p50_ms = percentile(filtered, 50);
      results.describe_sg_filtered_2500_p99_ms = percentile(filtered, 99);
      results.describe_sg_all_2500_p50_ms = percentile(everything, 50);
      results.describe_sg_all_2500_p99_ms = percentile(everything, 99);
      const authorize = await authorizeLatencies(api, 300);
      const key = isRoot ? 'authorize_to_live_2500_groups' : 'authorize_no_dataplane_2500_groups';
      results[`${key}_p50_ms`] = percentile(authorize, 50);
      results[`${key}_p99_ms`] = percentile(authorize, 99);
    } finally {
      await stopCloud(api);
    }
    if (isRoot) {
      const baseline = await startCloud(false);
      try {
        await fill(baseline);
        await authorizeLatencies(baseline, 20, 1000);
        const authorize = await authorizeLatencies(baseline, 300);
        results.authorize_no_dataplane_2500_groups_p50_ms = percentile(authorize, 50);
        results.authorize_no_dataplane_2500_groups_p99_ms = percentile(authorize, 99);
      } finally {
        await stopCloud(baseline);
      }
    }
    return results;
  },
};
