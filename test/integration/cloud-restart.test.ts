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
import { parseCidr, parseIpAddress } from '../../src/core/net/ip-address.js';
import { normalizeRule } from '../../src/core/sg/rule.js';
import { VpcRouter } from '../../src/servers/cloud/dataplane/vpc-router.js';
import { cloudDatabasePath, routerNamespaceOf } from '../../src/servers/cloud/cloud-service.js';
import { openCloudDatabase } from '../../src/servers/cloud/state/cloud-database.js';
import { Ec2Store } from '../../src/servers/cloud/state/ec2-store.js';
import { kernelPrefix } from '../../src/core/kernel-names.js';
import { linkNames } from '../../src/adapters/netns/netns.js';
import {
  controlPlaneInterfaceKey,
  controlPlaneNamespaceOf,
  instanceNamespaceOf,
} from '../../src/servers/cloud/dataplane/compute-plane.js';
import { spawn } from 'node:child_process';
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
function fail(message: string): never {
  throw new Error(message);
}

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
    // The control plane's interface is a port of every cloud (plugged in at start).
    const eniId = store.meta(controlPlaneInterfaceKey);
    const eni = store.compute.networkInterfaces().find((row) => row.networkInterfaceId === eniId);
    const subnet = store.subnets().find((row) => row.subnetId === eni?.subnetId);
    if (eniId && eni && subnet) {
      router.adoptInterface({
        networkInterfaceId: eniId,
        hostNamespace: controlPlaneNamespaceOf(kernelPrefix(home)),
        hostInterface: 'eth0',
        addresses: store.compute
          .addressesOf(eniId)
          .map((item) => parseIpAddress(item.address))
          .filter((address) => address !== undefined),
        subnet: parseCidr(subnet.cidrBlock)?.cidr ?? fail('bad subnet'),
        groupIds: store.compute.interfaceGroups().get(eniId) ?? [],
        sourceDestCheck: eni.sourceDestCheck,
      });
    }
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

  it('keeps instances, ports and branches across kill -9, and applies a termination committed meanwhile', async () => {
    cloud = await CloudProcess.start(home.home);
    const subnet = await cloud.shOk(
      `aws ec2 describe-subnets --filters 'Name=tag:Name,Values=*PrivateUSWEST2A*' --query 'Subnets[0].SubnetId' --output text`,
    );
    const group = await createGroup(cloud, 'NODE_SG');
    await cloud.shOk(
      `aws ec2 authorize-security-group-ingress --group-id ${group} --protocol tcp --port 7000 --source-group ${group}`,
    );
    const ids = (
      await cloud.shOk(
        `aws ec2 run-instances --image-id ami-0123456789abcdef0 --instance-type m5.large --count 3 --subnet-id ${subnet} --security-group-ids ${group} --query 'Instances[].InstanceId' --output text`,
      )
    ).split(/\s+/);
    const [server = '', clientInstance = '', doomed = ''] = ids;
    await waitFor(
      async () =>
        (await cloud?.shOk(
          `aws ec2 describe-instances --filters Name=instance-state-name,Values=running --query 'length(Reservations[].Instances[])' --output text`,
        )) === '3',
      { timeoutMs: 30_000, what: 'three instances to run' },
    );
    const trunk = await cloud.shOk(
      `aws ec2 create-network-interface --subnet-id ${subnet} --interface-type trunk --groups ${group} --query NetworkInterface.NetworkInterfaceId --output text`,
    );
    await cloud.shOk(
      `aws ec2 attach-network-interface --network-interface-id ${trunk} --instance-id ${server} --device-index 1`,
    );
    const branch = await cloud.shOk(
      `aws ec2 create-network-interface --subnet-id ${subnet} --groups ${group} --query NetworkInterface.NetworkInterfaceId --output text`,
    );
    await cloud.shOk(
      `aws ec2 associate-trunk-interface --branch-interface-id ${branch} --trunk-interface-id ${trunk} --vlan-id 9`,
    );
    const serverIp = await cloud.shOk(
      `aws ec2 describe-instances --instance-ids ${server} --query 'Reservations[0].Instances[0].PrivateIpAddress' --output text`,
    );
    const router = routerNamespaceOf(home.home);
    const linksBefore = (await linkNames(router)).sort();
    await cloud.crash();

    // Committed while the cloud was down: the third instance is shutting down, its ENI gone.
    const database = openCloudDatabase(cloudDatabasePath(home.home));
    const store = new Ec2Store(database);
    store.transaction(() => {
      for (const attachment of store.compute.attachmentsOf(doomed)) {
        store.compute.deleteAttachment(attachment.attachmentId);
        store.compute.deleteNetworkInterface(attachment.networkInterfaceId);
      }
      store.compute.setInstanceState(doomed, 'running', 'shutting-down', new Date().toISOString());
    });
    database.close();

    cloud = await CloudProcess.start(home.home);
    await waitFor(
      async () =>
        (await cloud?.shOk(
          `aws ec2 describe-instances --instance-ids ${doomed} --query 'Reservations[0].Instances[0].State.Name' --output text`,
        )) === 'terminated',
      { timeoutMs: 30_000, what: 'the committed termination to be applied' },
    );
    expect(await home.ownedNamespaces()).not.toContain(
      instanceNamespaceOf(kernelPrefix(home.home), doomed),
    );
    // The survivors' ports were adopted, not duplicated; the doomed one's port is gone.
    const linksAfter = (await linkNames(router)).sort();
    expect(linksAfter.length).toBe(linksBefore.length - 1);
    expect(linksAfter.every((name) => linksBefore.includes(name))).toBe(true);
    expect((await cloud.exec(server, ['ip', 'link', 'show', 'vlan.eth.9'])).code).toBe(0);
    const listener = spawn(
      process.execPath,
      [...cloud.execPrefix(server).slice(1), 'python3', '-c', LISTEN_7000],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      await waitFor(() => listener.stdout.read() !== null, {
        timeoutMs: 30_000,
        what: 'the listener',
      });
      const connect = await cloud.exec(clientInstance, [
        'python3',
        '-c',
        `import socket; socket.create_connection(("${serverIp}", 7000), timeout=5).close()`,
      ]);
      expect(connect.code, connect.stderr).toBe(0);
    } finally {
      listener.kill('SIGKILL');
    }
    const metadata = await cloud.exec(server, [
      'curl',
      '-sf',
      '-m',
      '5',
      'http://169.254.169.254/latest/meta-data/instance-id',
    ]);
    expect(metadata.stdout).toBe(server);
  });
});

const LISTEN_7000 = [
  'import socket, sys',
  's = socket.socket()',
  's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
  "s.bind(('0.0.0.0', 7000))",
  's.listen(8)',
  "print('listening', flush=True)",
  'while True:',
  '    s.accept()[0].close()',
].join('\n');
