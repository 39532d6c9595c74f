/**
 * `kill -9` at any point loses no acknowledged change, and the kernel follows the committed
 * state: after a crash the kernel still enforces what was acknowledged; a change committed but not
 * yet applied (a crash between commit and nft) is applied at the next start; a crash in the middle
 * of a burst of calls keeps every call that was answered.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupRulesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCidr } from '../../src/core/net/ip-address.js';
import { normalizeRule } from '../../src/core/sg/rule.js';
import { VpcRouter } from '../../src/servers/cloud/dataplane/vpc-router.js';
import { cloudDatabasePath, routerNamespaceOf } from '../../src/servers/cloud/cloud-service.js';
import { openCloudDatabase } from '../../src/servers/cloud/state/cloud-database.js';
import { Ec2Store } from '../../src/servers/cloud/state/ec2-store.js';
import { kernelPrefix } from '../../src/core/kernel-names.js';
import { CloudProcess } from '../support/cloud-process.js';
import { runCli } from '../support/run-cli.js';
import { waitFor } from '../support/wait-for.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';

function clientOf(cloud: CloudProcess): EC2Client {
  return cloud.ec2Client();
}

async function createGroup(cloud: CloudProcess, name: string): Promise<string> {
  const vpcId = (
    await cloud.sh(`aws ec2 describe-vpcs --query 'Vpcs[0].VpcId' --output text`)
  ).stdout.trim();
  const created = await clientOf(cloud).send(
    new CreateSecurityGroupCommand({ GroupName: name, Description: 'x', VpcId: vpcId }),
  );
  return created.GroupId ?? '';
}

/** The nft script that would bring the home's kernel to its committed state ('' = in sync). */
async function kernelDrift(home: string): Promise<string> {
  const database = openCloudDatabase(cloudDatabasePath(home));
  const store = new Ec2Store(database);
  const router = await VpcRouter.open({
    prefix: kernelPrefix(home),
    namespace: routerNamespaceOf(home),
  });
  try {
    router.setPrefixLists([]);
    router.setGroups(store.securityGroups());
    return await router.pendingPlan();
  } finally {
    await router.close();
    database.close();
  }
}

describe.skipIf(!isRoot)('the cloud after kill -9', () => {
  let home: TestHome;
  let cloud: CloudProcess | undefined;

  beforeEach(() => {
    home = createTestHome();
  });
  afterEach(async () => {
    // `sgpods down` stops the running cloud (registered in the home) and removes its kernel objects.
    const down = runCli(['down', '--home', home.home, '--purge']);
    expect(down.stdout).toMatch(/stopped [1-9]\d* process/);
    expect(down.code).toBe(0);
    const running = cloud;
    if (running)
      await waitFor(() => running.exited, { timeoutMs: 30_000, what: 'the cloud to stop' });
    expect(running?.child.exitCode).toBe(0);
    await home.cleanup();
    expect(await home.ownedNamespaces()).toEqual([]);
  });

  it('keeps state and kernel, and applies at start what was committed but not yet applied', async () => {
    cloud = await CloudProcess.start(home.home);
    const client = clientOf(cloud);
    const group = await createGroup(cloud, 'RDS_SG');
    await client.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: group,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 5432,
            ToPort: 5432,
            IpRanges: [{ CidrIp: '10.20.0.0/16' }],
          },
        ],
      }),
    );
    await cloud.crash();
    expect(await kernelDrift(home.home)).toBe('');

    // A commit the crashed process never applied to the kernel.
    const database = openCloudDatabase(cloudDatabasePath(home.home));
    const store = new Ec2Store(database);
    const cidr = parseCidr('10.30.0.0/16')?.cidr.text ?? '';
    store.transaction(() =>
      store.insertRule(
        normalizeRule(group, 'ingress', {
          protocol: 'udp',
          fromPort: 53,
          toPort: 53,
          cidrIpv4: cidr,
        }),
        'sgr-00000000000000abc',
      ),
    );
    database.close();
    expect(await kernelDrift(home.home)).not.toBe('');

    const port = cloud.env().AWS_ENDPOINT_URL;
    cloud = await CloudProcess.start(home.home);
    expect(cloud.env().AWS_ENDPOINT_URL).toBe(port);
    expect(await kernelDrift(home.home)).toBe('');
    const rules = await clientOf(cloud).send(
      new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [group] }] }),
    );
    expect(
      rules.SecurityGroupRules?.filter((rule) => !rule.IsEgress)
        .map((rule) => rule.CidrIpv4)
        .sort(),
    ).toEqual(['10.20.0.0/16', '10.30.0.0/16']);
  });

  it('keeps every answered call of a burst cut short by kill -9', async () => {
    cloud = await CloudProcess.start(home.home);
    const client = clientOf(cloud);
    const group = await createGroup(cloud, 'BURST');
    const acknowledged: string[] = [];
    const crashed = cloud;
    const calls = Array.from({ length: 50 }, async (_, index) => {
      const cidr = `10.${index}.0.0/16`;
      try {
        await client.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: group,
            IpPermissions: [
              { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: cidr }] },
            ],
          }),
        );
        acknowledged.push(cidr);
        if (acknowledged.length === 10) await crashed.crash();
      } catch {
        // Cut off by the crash: may or may not have been committed.
      }
    });
    await Promise.all(calls);
    expect(acknowledged.length).toBeGreaterThanOrEqual(10);
    cloud = await CloudProcess.start(home.home);
    const rules = await clientOf(cloud).send(
      new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [group] }] }),
    );
    const present = new Set(rules.SecurityGroupRules?.map((rule) => rule.CidrIpv4));
    for (const cidr of acknowledged) expect(present.has(cidr), cidr).toBe(true);
    expect(await kernelDrift(home.home)).toBe('');
  });
});
