/**
 * The compute API of the local cloud as the aws CLI and SDK v3 see it (no kernel: the dataplane
 * is off, so instances go pending → running at once): shapes, filters, pagination, client
 * tokens, DryRun, and EC2's errors, with nothing half-written after a rejected call.
 */
import {
  AssignPrivateIpAddressesCommand,
  AssociateTrunkInterfaceCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateNetworkInterfacePermissionCommand,
  DeleteNetworkInterfaceCommand,
  DeleteSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstanceTypesCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  DetachNetworkInterfaceCommand,
  ModifyNetworkInterfaceAttributeCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  UnassignPrivateIpAddressesCommand,
  paginateDescribeInstances,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../support/cloud-fixture.js';
import { runCli } from '../support/run-cli.js';
import { isRoot } from '../support/test-home.js';
import { waitFor } from '../support/wait-for.js';

const image = 'ami-0123456789abcdef0';

async function errorOf(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    const { name, message } = error as Error;
    return { name, message };
  }
  return { name: 'no error', message: '' };
}

describe('the compute API (instances, interfaces, trunks)', () => {
  let cloud: TestCloud;
  let ec2: EC2Client;
  let subnet = '';
  let otherZoneSubnet = '';
  let group = '';

  const run = async (overrides: Record<string, unknown> = {}): Promise<Instance> => {
    const result = await ec2.send(
      new RunInstancesCommand({
        ImageId: image,
        InstanceType: 'm5.large',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnet,
        SecurityGroupIds: [group],
        ...overrides,
      }),
    );
    const instance = result.Instances?.[0];
    if (!instance) throw new Error('no instance');
    return instance;
  };

  const running = async (instanceId: string): Promise<Instance> => {
    let found: Instance | undefined;
    await waitFor(
      async () => {
        const described = await ec2.send(
          new DescribeInstancesCommand({ InstanceIds: [instanceId] }),
        );
        found = described.Reservations?.[0]?.Instances?.[0];
        return found?.State?.Name === 'running';
      },
      { timeoutMs: 10_000, what: `${instanceId} to run` },
    );
    if (!found) throw new Error('unreachable');
    return found;
  };

  beforeAll(async () => {
    cloud = await startTestCloud();
    ec2 = cloud.ec2();
    const network = cloud.service.network;
    subnet = network.privateSubnetIds[0] ?? '';
    otherZoneSubnet = network.privateSubnetIds[1] ?? '';
    group = (
      await cloud.awsJson<{ GroupId: string }>([
        'ec2',
        'create-security-group',
        '--group-name',
        'NODE_SG',
        '--description',
        'nodes',
        '--vpc-id',
        network.vpcId,
      ])
    ).GroupId;
  });

  afterAll(async () => {
    await cloud.close();
  });

  it('launches instances as the aws CLI prints them, with tags, filters and pagination', async () => {
    const launched = await cloud.awsJson<{ Instances: Instance[]; ReservationId: string }>([
      'ec2',
      'run-instances',
      '--image-id',
      image,
      '--instance-type',
      'm5.large',
      '--count',
      '7',
      '--subnet-id',
      subnet,
      '--security-group-ids',
      group,
      '--tag-specifications',
      'ResourceType=instance,Tags=[{Key=Name,Value=node}]',
    ]);
    expect(launched.ReservationId).toMatch(/^r-[0-9a-f]{17}$/);
    expect(launched.Instances).toHaveLength(7);
    const first = launched.Instances[0];
    expect(first).toMatchObject({
      ImageId: image,
      InstanceType: 'm5.large',
      State: { Code: 0, Name: 'pending' },
      SubnetId: subnet,
      Placement: { AvailabilityZone: 'us-west-2a' },
      SecurityGroups: [{ GroupId: group, GroupName: 'NODE_SG' }],
      Tags: [{ Key: 'Name', Value: 'node' }],
      AmiLaunchIndex: 0,
    });
    expect(first?.PrivateDnsName).toBe(
      `ip-${first?.PrivateIpAddress?.replaceAll('.', '-')}.us-west-2.compute.internal`,
    );
    expect(first?.NetworkInterfaces?.[0]).toMatchObject({
      Attachment: { DeviceIndex: 0, Status: 'attached', DeleteOnTermination: true },
      Status: 'in-use',
      InterfaceType: 'interface',
      SourceDestCheck: true,
    });
    expect(first?.NetworkInterfaces?.[0]?.MacAddress).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const ids = launched.Instances.map((instance) => instance.InstanceId ?? '');
    for (const id of ids) await running(id);

    // The CLI merges pages of 5; the SDK paginator follows NextToken.
    const paged = await cloud.awsJson<{ Reservations: { Instances: Instance[] }[] }>([
      'ec2',
      'describe-instances',
      '--filters',
      'Name=tag:Name,Values=node',
      'Name=instance-state-name,Values=running',
      '--page-size',
      '5',
    ]);
    expect(paged.Reservations.flatMap((reservation) => reservation.Instances)).toHaveLength(7);
    const seen: string[] = [];
    for await (const page of paginateDescribeInstances(
      { client: ec2, pageSize: 5 },
      { Filters: [{ Name: 'instance.group-id', Values: [group] }] },
    )) {
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) seen.push(instance.InstanceId ?? '');
      }
    }
    expect(seen.sort()).toEqual([...ids].sort());
    const byAddress = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: 'private-ip-address', Values: [first?.PrivateIpAddress ?? ''] }],
      }),
    );
    expect(byAddress.Reservations?.[0]?.Instances?.map((instance) => instance.InstanceId)).toEqual([
      first?.InstanceId,
    ]);

    const terminated = await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    expect(terminated.TerminatingInstances?.[0]).toMatchObject({
      CurrentState: { Name: 'shutting-down' },
      PreviousState: { Name: 'running' },
    });
    await waitFor(
      async () => {
        const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
        return (described.Reservations ?? [])
          .flatMap((reservation) => reservation.Instances ?? [])
          .every((instance) => instance.State?.Name === 'terminated');
      },
      { timeoutMs: 10_000, what: 'the instances to terminate' },
    );
    const gone = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'attachment.instance-id', Values: ids }],
      }),
    );
    expect(gone.NetworkInterfaces).toEqual([]);
  });

  it('rejects bad launches with EC2 codes and writes nothing', async () => {
    const countBefore = cloud.service.store.compute.instances().length;
    const interfacesBefore = cloud.service.store.compute.networkInterfaces().length;
    const cases: [Record<string, unknown>, string][] = [
      [{ ImageId: 'ami-nothex' }, 'InvalidAMIID.Malformed'],
      [{ InstanceType: 'x9.huge' }, 'InvalidParameterValue'],
      [{ MinCount: 3, MaxCount: 2 }, 'InvalidParameterValue'],
      [{ MinCount: 0, MaxCount: 0 }, 'InvalidParameterValue'],
      [{ SubnetId: 'subnet-00000000000000000' }, 'InvalidSubnetID.NotFound'],
      [{ SubnetId: undefined }, 'VPCIdNotSpecified'],
      [{ SecurityGroupIds: ['sg-00000000000000000'] }, 'InvalidGroup.NotFound'],
      [{ SecurityGroupIds: ['bogus'] }, 'InvalidGroupId.Malformed'],
      [{ PrivateIpAddress: '10.0.0.9' }, 'InvalidParameterValue'],
      [
        { MaxCount: 2, MinCount: 2, PrivateIpAddress: '192.168.96.77' },
        'InvalidParameterCombination',
      ],
      [
        { TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'a', Value: 'b' }] }] },
        'InvalidParameterValue',
      ],
    ];
    for (const [overrides, code] of cases) {
      expect((await errorOf(run(overrides))).name, JSON.stringify(overrides)).toBe(code);
    }
    const dryRun = await errorOf(run({ DryRun: true }));
    expect(dryRun.name).toBe('DryRunOperation');
    expect(cloud.service.store.compute.instances()).toHaveLength(countBefore);
    expect(cloud.service.store.compute.networkInterfaces()).toHaveLength(interfacesBefore);

    const cli = await cloud.aws([
      'ec2',
      'describe-instances',
      '--instance-ids',
      'i-0000000000000000f',
    ]);
    expect(cli.code).toBe(255);
    expect(cli.stderr).toContain(
      "An error occurred (InvalidInstanceID.NotFound) when calling the DescribeInstances operation: The instance ID 'i-0000000000000000f' does not exist",
    );
    expect(
      (await errorOf(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['x'] })))).name,
    ).toBe('InvalidInstanceID.Malformed');
  });

  it('describes instance types from the limits table, and images', async () => {
    const types = await ec2.send(
      new DescribeInstanceTypesCommand({ InstanceTypes: ['m5.large', 't3.large'] }),
    );
    const m5 = types.InstanceTypes?.find((type) => type.InstanceType === 'm5.large');
    expect(m5).toMatchObject({
      VCpuInfo: { DefaultVCpus: 2 },
      MemoryInfo: { SizeInMiB: 8192 },
      NetworkInfo: { MaximumNetworkInterfaces: 3, Ipv4AddressesPerInterface: 10 },
    });
    expect(
      (
        await errorOf(
          ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['x9.huge' as never] })),
        )
      ).name,
    ).toBe('InvalidInstanceType');
    const images = await ec2.send(new DescribeImagesCommand({ ImageIds: [image] }));
    expect(images.Images?.[0]).toMatchObject({ ImageId: image, State: 'available' });
  });

  it('creates, attaches, modifies and deletes interfaces with EC2 semantics', async () => {
    const instance = await running((await run({ InstanceType: 't3.micro' })).InstanceId ?? '');
    const free = async () =>
      (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnet] }))).Subnets?.[0]
        ?.AvailableIpAddressCount ?? 0;
    const freeBefore = await free();
    const created = await ec2.send(
      new CreateNetworkInterfaceCommand({
        SubnetId: subnet,
        Description: 'aws-K8S-i-0abc',
        TagSpecifications: [
          { ResourceType: 'network-interface', Tags: [{ Key: 'team', Value: 'pods' }] },
        ],
        ClientToken: 'token-1',
      }),
    );
    const eni = created.NetworkInterface;
    const eniId = eni?.NetworkInterfaceId ?? '';
    expect(eni).toMatchObject({
      Status: 'available',
      InterfaceType: 'interface',
      Groups: [{ GroupId: cloud.service.network.defaultSecurityGroupId, GroupName: 'default' }],
      TagSet: [{ Key: 'team', Value: 'pods' }],
    });
    expect(created.ClientToken).toBe('token-1');
    expect(await free()).toBe(freeBefore - 1);
    // The same client token again: the same interface, nothing new.
    const again = await ec2.send(
      new CreateNetworkInterfaceCommand({ SubnetId: subnet, ClientToken: 'token-1' }),
    );
    expect(again.NetworkInterface?.NetworkInterfaceId).toBe(eniId);
    expect(
      cloud.service.store.compute
        .networkInterfaces()
        .filter((row) => row.networkInterfaceId === eniId),
    ).toHaveLength(1);

    const taken = await errorOf(
      ec2.send(
        new CreateNetworkInterfaceCommand({
          SubnetId: subnet,
          PrivateIpAddress: eni?.PrivateIpAddress ?? '',
        }),
      ),
    );
    expect(taken.name).toBe('InvalidIPAddress.InUse');
    const reserved = await errorOf(
      ec2.send(
        new CreateNetworkInterfaceCommand({ SubnetId: subnet, PrivateIpAddress: '192.168.96.2' }),
      ),
    );
    expect(reserved.name).toBe('InvalidParameterValue');
    const badType = await errorOf(
      ec2.send(
        new CreateNetworkInterfaceCommand({
          SubnetId: subnet,
          InterfaceType: 'interface' as never,
        }),
      ),
    );
    expect(badType.name).toBe('InvalidParameterValue');

    const filtered = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [
          { Name: 'description', Values: ['aws-K8S-*'] },
          { Name: 'status', Values: ['available'] },
          { Name: 'tag:team', Values: ['pods'] },
        ],
      }),
    );
    expect(filtered.NetworkInterfaces?.map((row) => row.NetworkInterfaceId)).toEqual([eniId]);

    const elsewhere = await ec2.send(
      new CreateNetworkInterfaceCommand({ SubnetId: otherZoneSubnet }),
    );
    expect(
      (
        await errorOf(
          ec2.send(
            new AttachNetworkInterfaceCommand({
              NetworkInterfaceId: elsewhere.NetworkInterface?.NetworkInterfaceId ?? '',
              InstanceId: instance.InstanceId ?? '',
              DeviceIndex: 1,
            }),
          ),
        )
      ).name,
    ).toBe('InvalidParameterCombination');
    expect(
      (
        await errorOf(
          ec2.send(
            new AttachNetworkInterfaceCommand({
              NetworkInterfaceId: eniId,
              InstanceId: instance.InstanceId ?? '',
              DeviceIndex: 0,
            }),
          ),
        )
      ).name,
    ).toBe('InvalidParameterValue');
    const attached = await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: eniId,
        InstanceId: instance.InstanceId ?? '',
        DeviceIndex: 1,
      }),
    );
    expect(attached.AttachmentId).toMatch(/^eni-attach-[0-9a-f]{17}$/);
    // t3.micro takes two interfaces.
    const third = await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet }));
    expect(
      (
        await errorOf(
          ec2.send(
            new AttachNetworkInterfaceCommand({
              NetworkInterfaceId: third.NetworkInterface?.NetworkInterfaceId ?? '',
              InstanceId: instance.InstanceId ?? '',
              DeviceIndex: 2,
            }),
          ),
        )
      ).name,
    ).toBe('AttachmentLimitExceeded');
    expect(
      (await errorOf(ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eniId }))))
        .message,
    ).toBe(`Network interface '${eniId}' is currently in use.`);

    // ModifyNetworkInterfaceAttribute: exactly one attribute.
    const modify = (input: Record<string, unknown>) =>
      ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, ...input }));
    expect((await errorOf(modify({}))).name).toBe('InvalidParameterCombination');
    expect((await errorOf(modify({ Groups: [group], Description: { Value: 'x' } }))).name).toBe(
      'InvalidParameterCombination',
    );
    await modify({ Groups: [group] });
    await modify({ SourceDestCheck: { Value: false } });
    await modify({ Description: { Value: 'renamed' } });
    await modify({
      Attachment: { AttachmentId: attached.AttachmentId ?? '', DeleteOnTermination: true },
    });
    const modified = (
      await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }))
    ).NetworkInterfaces?.[0];
    expect(modified).toMatchObject({
      Groups: [{ GroupId: group }],
      SourceDestCheck: false,
      Description: 'renamed',
      Status: 'in-use',
      Attachment: { DeviceIndex: 1, DeleteOnTermination: true, InstanceId: instance.InstanceId },
    });
    expect((await errorOf(ec2.send(new DeleteSecurityGroupCommand({ GroupId: group })))).name).toBe(
      'DependencyViolation',
    );

    // Secondary addresses, within the type's per-interface limit (t3.micro: 2).
    const assigned = await ec2.send(
      new AssignPrivateIpAddressesCommand({
        NetworkInterfaceId: eniId,
        SecondaryPrivateIpAddressCount: 1,
      }),
    );
    const secondary = assigned.AssignedPrivateIpAddresses?.[0]?.PrivateIpAddress ?? '';
    expect(secondary).toMatch(/^192\.168\./);
    expect(
      (
        await errorOf(
          ec2.send(
            new AssignPrivateIpAddressesCommand({
              NetworkInterfaceId: eniId,
              SecondaryPrivateIpAddressCount: 1,
            }),
          ),
        )
      ).name,
    ).toBe('PrivateIpAddressLimitExceeded');
    expect(
      (
        await errorOf(
          ec2.send(
            new UnassignPrivateIpAddressesCommand({
              NetworkInterfaceId: eniId,
              PrivateIpAddresses: [eni?.PrivateIpAddress ?? ''],
            }),
          ),
        )
      ).name,
    ).toBe('InvalidParameterValue');
    await ec2.send(
      new UnassignPrivateIpAddressesCommand({
        NetworkInterfaceId: eniId,
        PrivateIpAddresses: [secondary],
      }),
    );

    const permission = await ec2.send(
      new CreateNetworkInterfacePermissionCommand({
        NetworkInterfaceId: eniId,
        Permission: 'INSTANCE-ATTACH',
        AwsAccountId: '123456789012',
      }),
    );
    expect(permission.InterfacePermission).toMatchObject({
      NetworkInterfaceId: eniId,
      Permission: 'INSTANCE-ATTACH',
      PermissionState: { State: 'granted' },
    });

    const primaryAttachment = instance.NetworkInterfaces?.[0]?.Attachment?.AttachmentId ?? '';
    expect(
      (
        await errorOf(
          ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: primaryAttachment })),
        )
      ).name,
    ).toBe('OperationNotPermitted');
    await ec2.send(
      new DetachNetworkInterfaceCommand({ AttachmentId: attached.AttachmentId ?? '' }),
    );
    await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eniId }));
    expect(
      (
        await errorOf(
          ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] })),
        )
      ).name,
    ).toBe('InvalidNetworkInterfaceID.NotFound');
  });

  it('gives a new interface the asked number of secondary addresses besides its primary', async () => {
    const { NetworkInterface } = await ec2.send(
      new CreateNetworkInterfaceCommand({ SubnetId: subnet, SecondaryPrivateIpAddressCount: 2 }),
    );
    const addresses = NetworkInterface?.PrivateIpAddresses ?? [];
    expect(addresses.map((item) => item.Primary)).toEqual([true, false, false]);
    expect(new Set(addresses.map((item) => item.PrivateIpAddress)).size).toBe(3);
  });

  it('associates branches with trunks by VLAN, refusing what EC2 would refuse', async () => {
    const node = await running((await run()).InstanceId ?? '');
    const trunk = await ec2.send(
      new CreateNetworkInterfaceCommand({ SubnetId: subnet, InterfaceType: 'trunk' }),
    );
    const trunkId = trunk.NetworkInterface?.NetworkInterfaceId ?? '';
    const branch = await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet }));
    const branchId = branch.NetworkInterface?.NetworkInterfaceId ?? '';
    const associate = (vlanId: number) =>
      ec2.send(
        new AssociateTrunkInterfaceCommand({
          BranchInterfaceId: branchId,
          TrunkInterfaceId: trunkId,
          VlanId: vlanId,
        }),
      );
    // A trunk that is not attached to a running instance takes no branches.
    expect((await errorOf(associate(1))).name).toBe('IncorrectState');
    await ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: trunkId,
        InstanceId: node.InstanceId ?? '',
        DeviceIndex: 1,
      }),
    );
    expect((await errorOf(associate(4095))).name).toBe('InvalidParameterValue');
    const association = await associate(1);
    expect(association.ClientToken).toBeTruthy();
    expect(
      (await errorOf(ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: branchId }))))
        .name,
    ).toBe('InvalidParameterValue');
    const cli = await cloud.aws([
      'ec2',
      'disassociate-trunk-interface',
      '--association-id',
      'trunk-assoc-00000000000000000',
    ]);
    expect(cli.stderr).toContain('InvalidAssociationID.NotFound');
    const disassociated = await cloud.awsJson<{ Return: boolean }>([
      'ec2',
      'disassociate-trunk-interface',
      '--association-id',
      association.InterfaceAssociation?.AssociationId ?? '',
    ]);
    expect(disassociated.Return).toBe(true);
  });

  it('sgpods exec: clear errors for a bad id, an unknown instance, and an instance without a kernel', async () => {
    const instance = await running((await run()).InstanceId ?? '');
    const exec = (id: string) => runCli(['--home', cloud.home, 'exec', id, '--', 'true']);
    const malformed = exec('bogus');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('Invalid id: "bogus"');
    if (!isRoot) return;
    const unknown = exec('i-0000000000000000f');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("The instance ID 'i-0000000000000000f' does not exist");
    // This cloud runs without its dataplane: the instance has no namespace to enter.
    const noKernel = exec(instance.InstanceId ?? '');
    expect(noKernel.code).toBe(1);
    expect(noKernel.stderr).toContain('has no namespace');
  });
});
