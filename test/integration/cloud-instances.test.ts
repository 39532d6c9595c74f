/**
 * Instances, network interfaces and trunks of the local cloud on real packets: `sgpods cloud`
 * as a user runs it, driven by the aws CLI and SDK v3, with traffic made inside the instances
 * through `sgpods exec`. Every change is enforced before its call returns, so nothing waits
 * for the kernel; only instance launches (pending → running) are waited on, with deadlines.
 */
import {
  AssociateTrunkInterfaceCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeTrunkInterfaceAssociationsCommand,
  DisassociateTrunkInterfaceCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listNamespaces, linkNames } from '../../src/adapters/netns/netns.js';
import { runCommand } from '../../src/adapters/exec/run-command.js';
import { CloudProcess } from '../support/cloud-process.js';
import { NetnsProbe } from '../support/netns-probe.js';
import { runCli } from '../support/run-cli.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';
import { waitFor } from '../support/wait-for.js';

const denyTimeoutMs = 800;
const image = 'ami-0123456789abcdef0';

interface Launched {
  readonly instanceId: string;
  readonly address: string;
  readonly eniId: string;
  readonly mac: string;
}

async function errorCodeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { name?: string }).name ?? String(error);
  }
  return 'no error';
}

/** What the home owns in the kernel and /etc/netns (for before/after comparisons). */
async function kernelSnapshot(prefix: string): Promise<string[]> {
  const namespaces = (await listNamespaces()).filter((name) => name.startsWith(prefix));
  const etc = existsSync('/etc/netns')
    ? readdirSync('/etc/netns').filter((name) => name.startsWith(prefix))
    : [];
  return [...namespaces.map((name) => `netns ${name}`), ...etc.map((name) => `etc ${name}`)];
}

describe.skipIf(!isRoot)('instances, interfaces and trunks on real packets', () => {
  let home: TestHome;
  let cloud: CloudProcess;
  let ec2: EC2Client;
  let before: string[];
  const probes: NetnsProbe[] = [];
  const groups = { client: '', server: '', other: '', node: '', pod: '', db: '' };
  let subnet = '';
  let subnetCidr = '';

  async function launch(groupId: string, instanceType = 'm5.large'): Promise<Launched> {
    const instanceId = await cloud.shOk(
      `aws ec2 run-instances --image-id ${image} --instance-type ${instanceType} --count 1 --subnet-id ${subnet} --security-group-ids ${groupId} --query 'Instances[0].InstanceId' --output text`,
    );
    let launched: Launched | undefined;
    await waitFor(
      async () => {
        const described = await ec2.send(
          new DescribeInstancesCommand({ InstanceIds: [instanceId] }),
        );
        const instance = described.Reservations?.[0]?.Instances?.[0];
        const eni = instance?.NetworkInterfaces?.[0];
        if (instance?.State?.Name !== 'running' || !eni) return false;
        launched = {
          instanceId,
          address: instance.PrivateIpAddress ?? '',
          eniId: eni.NetworkInterfaceId ?? '',
          mac: eni.MacAddress ?? '',
        };
        return true;
      },
      { timeoutMs: 30_000, what: `${instanceId} to run` },
    );
    if (!launched) throw new Error('unreachable');
    return launched;
  }

  async function probeIn(instance: Launched): Promise<NetnsProbe> {
    const probe = new NetnsProbe(instance.instanceId, cloud.execPrefix(instance.instanceId));
    probes.push(probe);
    await probe.ready;
    return probe;
  }

  async function tcp(probe: NetnsProbe, to: string, port: number, src?: string, allow = true) {
    const reply = await probe.request('tcp', {
      dst: to,
      port,
      timeout: (allow ? 5000 : denyTimeoutMs) / 1000,
      ...(src ? { src } : {}),
    });
    return reply.ok === true;
  }

  async function createGroup(name: string): Promise<string> {
    return cloud.shOk(
      `aws ec2 create-security-group --group-name ${name} --description ${name} --vpc-id "$(aws ec2 describe-vpcs --query 'Vpcs[0].VpcId' --output text)" --query GroupId --output text`,
    );
  }

  beforeAll(async () => {
    home = createTestHome();
    before = await kernelSnapshot(home.prefix);
    cloud = await CloudProcess.start(home.home);
    ec2 = cloud.ec2Client();
    subnet = await cloud.shOk(
      `aws ec2 describe-subnets --filters 'Name=tag:Name,Values=*PrivateUSWEST2A*' --query 'Subnets[0].SubnetId' --output text`,
    );
    subnetCidr = await cloud.shOk(
      `aws ec2 describe-subnets --subnet-ids ${subnet} --query 'Subnets[0].CidrBlock' --output text`,
    );
    for (const key of Object.keys(groups) as (keyof typeof groups)[]) {
      groups[key] = await createGroup(`${key.toUpperCase()}_SG`);
    }
  });

  afterAll(async () => {
    await Promise.all(probes.map((probe) => probe.close()));
    await cloud.stop();
    const down = runCli(['down', '--home', home.home, '--purge']);
    expect(down.code).toBe(0);
    // `down` leaves nothing of the home: namespaces, /etc/netns files.
    expect(await kernelSnapshot(home.prefix)).toEqual(before);
    await home.cleanup();
  });

  it('enforces the groups of two instances on TCP, UDP and ICMP, live', async () => {
    const client = await launch(groups.client);
    const server = await launch(groups.server);
    const serverProbe = await probeIn(server);
    await serverProbe.request('listen', { proto: 'tcp', port: 8080, family: 4 });
    await serverProbe.request('listen', { proto: 'udp', port: 9090, family: 4 });
    const clientProbe = await probeIn(client);
    const udp = async (allow: boolean) =>
      (
        await clientProbe.request('udp', {
          dst: server.address,
          port: 9090,
          token: `u${Date.now()}`,
          timeout: (allow ? 5000 : denyTimeoutMs) / 1000,
        })
      ).ok === true;
    const ping = async (allow: boolean) =>
      (await cloud.exec(client.instanceId, ['ping', '-c1', `-W${allow ? 5 : 1}`, server.address]))
        .code === 0;

    // A new group admits nothing.
    expect(await tcp(clientProbe, server.address, 8080, undefined, false)).toBe(false);
    expect(await udp(false)).toBe(false);
    expect(await ping(false)).toBe(false);

    await cloud.shOk(
      `aws ec2 authorize-security-group-ingress --group-id ${groups.server} --protocol tcp --port 8080 --source-group ${groups.client}`,
    );
    expect(await tcp(clientProbe, server.address, 8080)).toBe(true);
    expect(await udp(false)).toBe(false);
    await cloud.shOk(
      `aws ec2 authorize-security-group-ingress --group-id ${groups.server} --protocol udp --port 9090 --source-group ${groups.client}`,
    );
    expect(await udp(true)).toBe(true);
    expect(await ping(false)).toBe(false);
    await cloud.shOk(
      `aws ec2 authorize-security-group-ingress --group-id ${groups.server} --protocol icmp --port -1 --source-group ${groups.client}`,
    );
    expect(await ping(true)).toBe(true);

    // The client's interface moves to a group the server does not admit, and back.
    await cloud.shOk(
      `aws ec2 modify-network-interface-attribute --network-interface-id ${client.eniId} --groups ${groups.other}`,
    );
    expect(await tcp(clientProbe, server.address, 8080, undefined, false)).toBe(false);
    await cloud.shOk(
      `aws ec2 modify-network-interface-attribute --network-interface-id ${client.eniId} --groups ${groups.client}`,
    );
    expect(await tcp(clientProbe, server.address, 8080)).toBe(true);

    // A secondary address: usable once configured, and a member of the interface's groups.
    const secondary = await cloud.shOk(
      `aws ec2 assign-private-ip-addresses --network-interface-id ${client.eniId} --secondary-private-ip-address-count 1 --query 'AssignedPrivateIpAddresses[0].PrivateIpAddress' --output text`,
    );
    const prefixLength = subnetCidr.split('/')[1] ?? '19';
    const added = await cloud.exec(client.instanceId, [
      'ip',
      'addr',
      'add',
      `${secondary}/${prefixLength}`,
      'dev',
      'eth0',
    ]);
    expect(added.code).toBe(0);
    expect(await tcp(clientProbe, server.address, 8080, secondary)).toBe(true);
    await cloud.shOk(
      `aws ec2 unassign-private-ip-addresses --network-interface-id ${client.eniId} --private-ip-addresses ${secondary}`,
    );
    // Unassigned, the address is a spoofed source for the VPC.
    expect(await tcp(clientProbe, server.address, 8080, secondary, false)).toBe(false);
  });

  it('serves instance metadata (IMDSv1 and v2) inside instances, and names through the VPC resolver', async () => {
    const instance = await launch(groups.client);
    const peer = await launch(groups.server);
    const get = async (path: string, token?: string) => {
      const result = await cloud.exec(instance.instanceId, [
        'curl',
        '-sf',
        '-m',
        '5',
        ...(token ? ['-H', `X-aws-ec2-metadata-token: ${token}`] : []),
        `http://169.254.169.254/latest/${path}`,
      ]);
      expect(result.code, `${path}: ${result.stderr}`).toBe(0);
      return result.stdout;
    };
    // sgpods exec passes stdin, stdout, stderr and the exit status through.
    const echoed = await cloud.exec(
      instance.instanceId,
      ['sh', '-c', 'cat; echo oops >&2; exit 7'],
      'from stdin\n',
    );
    expect(echoed).toEqual({ code: 7, stdout: 'from stdin\n', stderr: 'oops\n' });
    expect(await get('meta-data/instance-id')).toBe(instance.instanceId);
    expect(await get('meta-data/local-ipv4')).toBe(instance.address);
    expect(await get('meta-data/public-ipv4')).toBe(instance.address);
    expect(await get('meta-data/mac')).toBe(instance.mac);
    expect(await get('meta-data/instance-type')).toBe('m5.large');
    expect(await get(`meta-data/network/interfaces/macs/${instance.mac}/security-group-ids`)).toBe(
      groups.client,
    );
    expect(await get('meta-data/placement/region')).toBe('us-west-2');
    const tokenResult = await cloud.exec(instance.instanceId, [
      'curl',
      '-sf',
      '-m',
      '5',
      '-X',
      'PUT',
      '-H',
      'X-aws-ec2-metadata-token-ttl-seconds: 60',
      'http://169.254.169.254/latest/api/token',
    ]);
    expect(tokenResult.code).toBe(0);
    const token = tokenResult.stdout;
    expect(await get('meta-data/instance-id', token)).toBe(instance.instanceId);
    const identity = JSON.parse(await get('dynamic/instance-identity/document', token)) as {
      accountId: string;
      instanceId: string;
    };
    expect(identity).toMatchObject({ accountId: '123456789012', instanceId: instance.instanceId });
    const forged = await cloud.exec(instance.instanceId, [
      'curl',
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-m',
      '5',
      '-H',
      'X-aws-ec2-metadata-token: forged',
      'http://169.254.169.254/latest/meta-data/instance-id',
    ]);
    expect(forged.stdout).toBe('401');

    // The host has no way to it: no listener, no route through the home's objects.
    const { stdout: listeners } = await runCommand(['ss', '-ltnH']);
    expect(listeners).not.toContain('169.254.169.254');
    const { stdout: route } = await runCommand(['ip', 'route', 'get', '169.254.169.254']);
    expect(route).not.toContain(home.prefix);

    // Instance names resolve through the VPC resolver (FQDN and the search domain).
    const peerName = `ip-${peer.address.replaceAll('.', '-')}`;
    const fqdn = await cloud.exec(instance.instanceId, [
      'getent',
      'hosts',
      `${peerName}.us-west-2.compute.internal`,
    ]);
    expect(fqdn.stdout).toContain(peer.address);
    const short = await cloud.exec(instance.instanceId, ['getent', 'hosts', peerName]);
    expect(short.stdout).toContain(peer.address);
    const unknown = await cloud.exec(instance.instanceId, [
      'getent',
      'hosts',
      'ip-192-168-255-254.us-west-2.compute.internal',
    ]);
    expect(unknown.code).toBe(2);

    // Groups never filter the resolver or the metadata service: an interface without egress.
    await cloud.shOk(
      `aws ec2 revoke-security-group-egress --group-id ${groups.other} --protocol all --cidr 0.0.0.0/0`,
    );
    await cloud.shOk(
      `aws ec2 modify-network-interface-attribute --network-interface-id ${instance.eniId} --groups ${groups.other}`,
    );
    expect((await cloud.exec(instance.instanceId, ['getent', 'hosts', peerName])).code).toBe(0);
    expect(await get('meta-data/instance-id')).toBe(instance.instanceId);
    const blocked = await cloud.exec(instance.instanceId, ['ping', '-c1', '-W1', peer.address]);
    expect(blocked.code).not.toBe(0);
  });

  it('gives an associated branch its own port, vlan.eth.<vlanId>, carrying its own groups', async () => {
    await cloud.shOk(
      `aws ec2 authorize-security-group-ingress --group-id ${groups.db} --protocol tcp --port 5432 --source-group ${groups.pod}`,
    );
    const node = await launch(groups.node);
    const db = await launch(groups.db);
    const dbProbe = await probeIn(db);
    await dbProbe.request('listen', { proto: 'tcp', port: 5432, family: 4 });

    const trunk = await ec2.send(
      new CreateNetworkInterfaceCommand({
        SubnetId: subnet,
        Groups: [groups.node],
        InterfaceType: 'trunk',
        Description: 'aws-k8s-trunk-eni',
      }),
    );
    const trunkId = trunk.NetworkInterface?.NetworkInterfaceId ?? '';
    expect(trunk.NetworkInterface?.InterfaceType).toBe('trunk');
    await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: trunkId,
        InstanceId: node.instanceId,
        DeviceIndex: 1,
      }),
    );
    const branch = await ec2.send(
      new CreateNetworkInterfaceCommand({
        SubnetId: subnet,
        Groups: [groups.pod],
        Description: 'aws-k8s-branch-eni',
      }),
    );
    const branchId = branch.NetworkInterface?.NetworkInterfaceId ?? '';
    const branchIp = branch.NetworkInterface?.PrivateIpAddress ?? '';
    const branchMac = branch.NetworkInterface?.MacAddress ?? '';
    const associated = await ec2.send(
      new AssociateTrunkInterfaceCommand({
        BranchInterfaceId: branchId,
        TrunkInterfaceId: trunkId,
        VlanId: 5,
      }),
    );
    const associationId = associated.InterfaceAssociation?.AssociationId ?? '';
    expect(associated.InterfaceAssociation).toMatchObject({
      BranchInterfaceId: branchId,
      TrunkInterfaceId: trunkId,
      VlanId: 5,
      InterfaceProtocol: 'VLAN',
    });
    const described = await ec2.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [branchId] }),
    );
    expect(described.NetworkInterfaces?.[0]).toMatchObject({
      Status: 'in-use',
      InterfaceType: 'branch',
    });

    const link = await cloud.exec(node.instanceId, ['ip', '-j', 'link', 'show', 'vlan.eth.5']);
    expect(link.code).toBe(0);
    expect((JSON.parse(link.stdout) as { address: string }[])[0]?.address).toBe(branchMac);

    // What the VPC CNI does for a branch pod, reduced to the node's side: the branch address on
    // the VLAN interface, routed out of it by a table of its own.
    const gateway = subnetCidr.replace(/\.0\/\d+$/, '.1');
    const configured = await cloud.exec(node.instanceId, [
      'sh',
      '-c',
      `ip addr add ${branchIp}/32 dev vlan.eth.5 && ip route add ${gateway} dev vlan.eth.5 table 105 && ip route add default via ${gateway} dev vlan.eth.5 table 105 && ip rule add from ${branchIp} table 105`,
    ]);
    expect(configured.code, configured.stderr).toBe(0);
    const nodeProbe = await probeIn(node);
    expect(await tcp(nodeProbe, db.address, 5432, branchIp)).toBe(true);
    expect(await tcp(nodeProbe, db.address, 5432, node.address, false)).toBe(false);

    // Association errors, as EC2 words them (or as documented where EC2 does not).
    const spare = await ec2.send(
      new CreateNetworkInterfaceCommand({ SubnetId: subnet, Groups: [groups.pod] }),
    );
    const spareId = spare.NetworkInterface?.NetworkInterfaceId ?? '';
    const associate = (branchInterfaceId: string, trunkInterfaceId: string, vlanId: number) =>
      errorCodeOf(
        ec2.send(
          new AssociateTrunkInterfaceCommand({
            BranchInterfaceId: branchInterfaceId,
            TrunkInterfaceId: trunkInterfaceId,
            VlanId: vlanId,
          }),
        ),
      );
    expect(await associate('eni-00000000000000000', trunkId, 6)).toBe(
      'InvalidNetworkInterfaceID.NotFound',
    );
    expect(await associate(spareId, 'eni-00000000000000000', 6)).toBe(
      'InvalidNetworkInterfaceID.NotFound',
    );
    expect(await associate(spareId, trunkId, 5)).toBe('InvalidParameterValue');
    expect(await associate(spareId, node.eniId, 6)).toBe('InvalidParameterValue');
    expect(await associate(spareId, trunkId, 0)).toBe('InvalidParameterValue');
    expect(await associate(branchId, trunkId, 7)).toBe('InvalidParameterValue');
    const listed = await ec2.send(
      new DescribeTrunkInterfaceAssociationsCommand({
        Filters: [{ Name: 'trunk-interface-association.trunk-interface-id', Values: [trunkId] }],
      }),
    );
    expect(listed.InterfaceAssociations?.map((row) => row.AssociationId)).toEqual([associationId]);

    await ec2.send(new DisassociateTrunkInterfaceCommand({ AssociationId: associationId }));
    expect((await cloud.exec(node.instanceId, ['ip', 'link', 'show', 'vlan.eth.5'])).code).not.toBe(
      0,
    );
    const after = await ec2.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [branchId] }),
    );
    expect(after.NetworkInterfaces?.[0]).toMatchObject({
      Status: 'available',
      InterfaceType: 'interface',
    });

    // A trunk only attaches to a type that supports trunking (no t3).
    const small = await launch(groups.node, 't3.large');
    const otherTrunk = await ec2.send(
      new CreateNetworkInterfaceCommand({ SubnetId: subnet, InterfaceType: 'trunk' }),
    );
    expect(
      await errorCodeOf(
        ec2.send(
          new AttachNetworkInterfaceCommand({
            NetworkInterfaceId: otherTrunk.NetworkInterface?.NetworkInterfaceId ?? '',
            InstanceId: small.instanceId,
            DeviceIndex: 1,
          }),
        ),
      ),
    ).toBe('InvalidParameterValue');
  });

  it('terminates: the namespace and DeleteOnTermination interfaces go, the others stay available', async () => {
    const instance = await launch(groups.client);
    const extra = await cloud.shOk(
      `aws ec2 create-network-interface --subnet-id ${subnet} --groups ${groups.client} --query NetworkInterface.NetworkInterfaceId --output text`,
    );
    await cloud.shOk(
      `aws ec2 attach-network-interface --network-interface-id ${extra} --instance-id ${instance.instanceId} --device-index 1`,
    );
    const eth1 = await cloud.exec(instance.instanceId, ['ip', '-br', 'link', 'show', 'eth1']);
    expect(eth1.code).toBe(0);
    const namespacesBefore = await home.ownedNamespaces();
    const routerLinksBefore = (await linkNames(`${home.prefix}vpc`)).length;

    const terminated = await cloud.shOk(
      `aws ec2 terminate-instances --instance-ids ${instance.instanceId} --query 'TerminatingInstances[0].CurrentState.Name' --output text`,
    );
    expect(terminated).toBe('shutting-down');
    await waitFor(
      async () =>
        (await cloud.shOk(
          `aws ec2 describe-instances --instance-ids ${instance.instanceId} --query 'Reservations[0].Instances[0].State.Name' --output text`,
        )) === 'terminated',
      { timeoutMs: 30_000, what: 'the instance to terminate' },
    );
    expect((await home.ownedNamespaces()).length).toBe(namespacesBefore.length - 1);
    expect((await linkNames(`${home.prefix}vpc`)).length).toBe(routerLinksBefore - 2);
    const primaryGone = await cloud.sh(
      `aws ec2 describe-network-interfaces --network-interface-ids ${instance.eniId}`,
    );
    expect(primaryGone.stderr).toContain('InvalidNetworkInterfaceID.NotFound');
    expect(
      await cloud.shOk(
        `aws ec2 describe-network-interfaces --network-interface-ids ${extra} --query 'NetworkInterfaces[0].Status' --output text`,
      ),
    ).toBe('available');
    const execGone = await cloud.exec(instance.instanceId, ['true']);
    expect(execGone.code).toBe(1);
    expect(execGone.stderr).toContain('terminated');
  });
});
