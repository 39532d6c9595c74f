/**
 * The security-group API beyond the workshop, with SDK v3 (and the aws CLI where its own
 * behaviour matters): filters, pagination, tags, rule ids, ModifySecurityGroupRules, prefix
 * lists, the first-start VPC, and fault injection armed through `sgpods faults`.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateManagedPrefixListCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteManagedPrefixListCommand,
  DeleteTagsCommand,
  DescribeManagedPrefixListsCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeTagsCommand,
  DescribeVpcsCommand,
  EC2Client,
  EC2ServiceException,
  GetManagedPrefixListEntriesCommand,
  ModifyManagedPrefixListCommand,
  ModifySecurityGroupRulesCommand,
  RevokeSecurityGroupIngressCommand,
  paginateDescribeSecurityGroups,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../support/cloud-fixture.js';
import { runCli } from '../support/run-cli.js';

let cloud: TestCloud;
let client: EC2Client;
let vpcId: string;

async function createGroup(name: string, tags: Record<string, string> = {}): Promise<string> {
  const result = await client.send(
    new CreateSecurityGroupCommand({
      GroupName: name,
      Description: `${name} group`,
      VpcId: vpcId,
      ...(Object.keys(tags).length > 0
        ? {
            TagSpecifications: [
              {
                ResourceType: 'security-group',
                Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
              },
            ],
          }
        : {}),
    }),
  );
  return result.GroupId ?? '';
}

beforeAll(async () => {
  cloud = await startTestCloud();
  client = cloud.ec2();
  vpcId = cloud.service.network.vpcId;
});
afterAll(async () => {
  await cloud.close();
});

describe('the first-start network', () => {
  it('is eksctl-shaped: a non-default 192.168.0.0/16 VPC, public and private subnets in three zones', async () => {
    const vpcs = await client.send(new DescribeVpcsCommand({}));
    expect(vpcs.Vpcs).toHaveLength(1);
    expect(vpcs.Vpcs?.[0]).toMatchObject({
      VpcId: vpcId,
      CidrBlock: '192.168.0.0/16',
      IsDefault: false,
      State: 'available',
    });
    expect(vpcs.Vpcs?.[0]?.Tags).toContainEqual({
      Key: 'Name',
      Value: 'eksctl-eksworkshop-eksctl-cluster/VPC',
    });
    const subnets = await client.send(
      new DescribeSubnetsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [vpcId] },
          { Name: 'tag:Name', Values: ['eksctl-eksworkshop-eksctl-cluster/SubnetPrivate*'] },
        ],
      }),
    );
    expect(subnets.Subnets?.map((subnet) => subnet.AvailabilityZone).sort()).toEqual([
      'us-west-2a',
      'us-west-2b',
      'us-west-2c',
    ]);
    expect(subnets.Subnets?.map((subnet) => subnet.CidrBlock)).toEqual([
      '192.168.96.0/19',
      '192.168.128.0/19',
      '192.168.160.0/19',
    ]);
    expect(subnets.Subnets?.[0]).toMatchObject({
      MapPublicIpOnLaunch: false,
      // 8,187 less the control plane's interface (an address for the API, one for the AWS endpoints).
      AvailableIpAddressCount: 8185,
    });
    const names = (subnets.Subnets ?? []).map(
      (subnet) => subnet.Tags?.find((tag) => tag.Key === 'Name')?.Value,
    );
    expect(names).toContain('eksctl-eksworkshop-eksctl-cluster/SubnetPrivateUSWEST2A');
  });

  it('has the default group (in from itself) and the EKS cluster group', async () => {
    const { SecurityGroups: groups = [] } = await client.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }),
    );
    const byName = new Map(groups.map((group) => [group.GroupName ?? '', group]));
    const defaultGroup = byName.get('default');
    expect(defaultGroup?.IpPermissions).toEqual([
      {
        IpProtocol: '-1',
        UserIdGroupPairs: [{ GroupId: defaultGroup?.GroupId, UserId: '123456789012' }],
        IpRanges: [],
        Ipv6Ranges: [],
        PrefixListIds: [],
      },
    ]);
    const cluster = groups.find((group) => group.GroupName?.startsWith('eks-cluster-sg-'));
    expect(cluster?.GroupName).toMatch(/^eks-cluster-sg-eksworkshop-eksctl-\d+$/);
    expect(cluster?.Tags).toContainEqual({
      Key: 'aws:eks:cluster-name',
      Value: 'eksworkshop-eksctl',
    });
    expect(cluster?.IpPermissionsEgress?.[0]?.IpRanges).toEqual([{ CidrIp: '0.0.0.0/0' }]);
  });
});

describe('DescribeSecurityGroups', () => {
  it('filters by tags with wildcards, by rule contents, ANDs filters and ORs values', async () => {
    const web = await createGroup('web', { team: 'blue', tier: 'front' });
    const api = await createGroup('api', { team: 'green' });
    await client.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: api,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, UserIdGroupPairs: [{ GroupId: web }] },
        ],
      }),
    );
    const ids = async (filters: { Name: string; Values: string[] }[]) =>
      (
        await client.send(new DescribeSecurityGroupsCommand({ Filters: filters }))
      ).SecurityGroups?.map((group) => group.GroupId);
    expect(await ids([{ Name: 'tag:team', Values: ['bl*', 'gr??n'] }])).toEqual([web, api]);
    expect(await ids([{ Name: 'tag-key', Values: ['tier'] }])).toEqual([web]);
    expect(await ids([{ Name: 'ip-permission.group-id', Values: [web] }])).toEqual([api]);
    expect(await ids([{ Name: 'ip-permission.from-port', Values: ['8080'] }])).toEqual([api]);
    expect(
      await ids([
        { Name: 'tag:team', Values: ['*'] },
        { Name: 'group-name', Values: ['API'] },
      ]),
    ).toEqual([]);
    expect(await ids([{ Name: 'description', Values: ['web group'] }])).toEqual([web]);
  });

  it('paginates: MaxResults pages with NextToken (SDK paginator, CLI --page-size merge)', async () => {
    for (let index = 0; index < 12; index++) await createGroup(`page-${index}`);
    const all: SecurityGroup[] = [];
    let pages = 0;
    for await (const page of paginateDescribeSecurityGroups(
      { client, pageSize: 5 },
      { Filters: [{ Name: 'group-name', Values: ['page-*'] }] },
    )) {
      pages += 1;
      all.push(...(page.SecurityGroups ?? []));
    }
    expect(pages).toBe(3);
    expect(all.map((group) => group.GroupName)).toEqual(
      Array.from({ length: 12 }, (_, index) => `page-${index}`),
    );
    const cli = await cloud.awsJson<{ SecurityGroups: SecurityGroup[] }>([
      'ec2',
      'describe-security-groups',
      '--filters',
      'Name=group-name,Values=page-*',
      '--page-size',
      '5',
    ]);
    expect(cli.SecurityGroups).toHaveLength(12);
    const tooSmall = await client
      .send(new DescribeSecurityGroupsCommand({ MaxResults: 3 }))
      .catch((e: unknown) => e);
    expect((tooSmall as EC2ServiceException).name).toBe('InvalidParameterValue');
    const badToken = await client
      .send(new DescribeSecurityGroupsCommand({ NextToken: 'not-a-token', MaxResults: 5 }))
      .catch((e: unknown) => e);
    expect((badToken as EC2ServiceException).name).toBe('InvalidPaginationToken');
  });
});

describe('security group rules', () => {
  it('are listed with ids and tags, revoked by id, and modified in place', async () => {
    const group = await createGroup('rules');
    const authorized = await client.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: group,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 80,
            ToPort: 80,
            IpRanges: [{ CidrIp: '10.0.0.0/8', Description: 'intranet' }],
            Ipv6Ranges: [{ CidrIpv6: '2001:db8::/32' }],
          },
        ],
        TagSpecifications: [
          { ResourceType: 'security-group-rule', Tags: [{ Key: 'why', Value: 'web' }] },
        ],
      }),
    );
    const rules = authorized.SecurityGroupRules ?? [];
    expect(rules).toHaveLength(2);
    expect(rules[0]).toMatchObject({
      GroupId: group,
      IsEgress: false,
      IpProtocol: 'tcp',
      FromPort: 80,
      ToPort: 80,
      CidrIpv4: '10.0.0.0/8',
      Description: 'intranet',
      Tags: [{ Key: 'why', Value: 'web' }],
    });
    const [v4, v6] = rules.map((rule) => rule.SecurityGroupRuleId ?? '');
    const listed = await client.send(
      new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [group] }] }),
    );
    expect(listed.SecurityGroupRules?.map((rule) => rule.SecurityGroupRuleId)).toEqual(
      expect.arrayContaining([v4, v6]),
    );
    const egress = listed.SecurityGroupRules?.find((rule) => rule.IsEgress);
    expect(egress).toMatchObject({
      IpProtocol: '-1',
      FromPort: -1,
      ToPort: -1,
      CidrIpv4: '0.0.0.0/0',
    });

    await client.send(
      new ModifySecurityGroupRulesCommand({
        GroupId: group,
        SecurityGroupRules: [
          {
            SecurityGroupRuleId: v4,
            SecurityGroupRule: {
              IpProtocol: 'tcp',
              FromPort: 443,
              ToPort: 443,
              CidrIpv4: '10.0.0.0/8',
            },
          },
        ],
      }),
    );
    const modified = await client.send(
      new DescribeSecurityGroupRulesCommand({ SecurityGroupRuleIds: [v4 ?? ''] }),
    );
    expect(modified.SecurityGroupRules?.[0]).toMatchObject({
      FromPort: 443,
      ToPort: 443,
      Tags: [{ Key: 'why', Value: 'web' }],
    });

    const clash = await client
      .send(
        new ModifySecurityGroupRulesCommand({
          GroupId: group,
          SecurityGroupRules: [
            {
              SecurityGroupRuleId: v6,
              SecurityGroupRule: {
                IpProtocol: 'tcp',
                FromPort: 443,
                ToPort: 443,
                CidrIpv4: '10.0.0.0/8',
              },
            },
          ],
        }),
      )
      .catch((e: unknown) => e);
    expect((clash as EC2ServiceException).name).toBe('InvalidPermission.Duplicate');

    // Two rules may trade contents in one call.
    const [tcp, udp] = [
      { IpProtocol: 'tcp', FromPort: 25, ToPort: 25, CidrIpv4: '10.1.0.0/16' },
      { IpProtocol: 'udp', FromPort: 25, ToPort: 25, CidrIpv4: '10.1.0.0/16' },
    ];
    await client.send(
      new ModifySecurityGroupRulesCommand({
        GroupId: group,
        SecurityGroupRules: [
          { SecurityGroupRuleId: v4, SecurityGroupRule: tcp },
          { SecurityGroupRuleId: v6, SecurityGroupRule: udp },
        ],
      }),
    );
    await client.send(
      new ModifySecurityGroupRulesCommand({
        GroupId: group,
        SecurityGroupRules: [
          { SecurityGroupRuleId: v4, SecurityGroupRule: udp },
          { SecurityGroupRuleId: v6, SecurityGroupRule: tcp },
        ],
      }),
    );
    const traded = await client.send(
      new DescribeSecurityGroupRulesCommand({ SecurityGroupRuleIds: [v4 ?? '', v6 ?? ''] }),
    );
    expect(
      Object.fromEntries(
        traded.SecurityGroupRules?.map((rule) => [rule.SecurityGroupRuleId, rule.IpProtocol]) ?? [],
      ),
    ).toEqual({ [v4 ?? '']: 'udp', [v6 ?? '']: 'tcp' });
    await client.send(
      new ModifySecurityGroupRulesCommand({
        GroupId: group,
        SecurityGroupRules: [
          {
            SecurityGroupRuleId: v6,
            SecurityGroupRule: {
              IpProtocol: 'tcp',
              FromPort: 80,
              ToPort: 80,
              CidrIpv6: '2001:db8::/32',
            },
          },
        ],
      }),
    );

    const revoked = await client.send(
      new RevokeSecurityGroupIngressCommand({ GroupId: group, SecurityGroupRuleIds: [v6 ?? ''] }),
    );
    expect(revoked.RevokedSecurityGroupRules).toEqual([
      expect.objectContaining({ SecurityGroupRuleId: v6, CidrIpv6: '2001:db8::/32' }),
    ]);
  });

  it('accepts the legacy top-level form and the CLI --port range and --protocol all forms', async () => {
    const group = await createGroup('legacy');
    const range = await cloud.awsJson<{
      SecurityGroupRules: { FromPort: number; ToPort: number }[];
    }>([
      'ec2',
      'authorize-security-group-ingress',
      '--group-id',
      group,
      '--protocol',
      'tcp',
      '--port',
      '1000-2000',
      '--cidr',
      '10.0.0.0/8',
    ]);
    expect(range.SecurityGroupRules[0]).toMatchObject({ FromPort: 1000, ToPort: 2000 });
    const all = await cloud.awsJson<{ SecurityGroupRules: { IpProtocol: string }[] }>([
      'ec2',
      'authorize-security-group-ingress',
      '--group-id',
      group,
      '--protocol',
      'all',
      '--source-group',
      group,
    ]);
    expect(all.SecurityGroupRules[0]).toMatchObject({ IpProtocol: '-1' });
    const legacy = await client.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: group,
        IpProtocol: 'udp',
        FromPort: 53,
        ToPort: 53,
        CidrIp: '172.16.0.0/12',
      }),
    );
    expect(legacy.SecurityGroupRules?.[0]).toMatchObject({
      IpProtocol: 'udp',
      CidrIpv4: '172.16.0.0/12',
    });
  });
});

describe('tags', () => {
  it('are created, described with filters, and deleted (by key, or key and value)', async () => {
    const group = await createGroup('tagged');
    await client.send(
      new CreateTagsCommand({
        Resources: [group, vpcId],
        Tags: [
          { Key: 'env', Value: 'lab' },
          { Key: 'owner', Value: 'me' },
        ],
      }),
    );
    const described = await client.send(
      new DescribeTagsCommand({
        Filters: [
          { Name: 'key', Values: ['env'] },
          { Name: 'resource-id', Values: [group, vpcId] },
        ],
      }),
    );
    expect(described.Tags).toEqual(
      expect.arrayContaining([
        { ResourceId: group, ResourceType: 'security-group', Key: 'env', Value: 'lab' },
        { ResourceId: vpcId, ResourceType: 'vpc', Key: 'env', Value: 'lab' },
      ]),
    );
    await client.send(
      new DeleteTagsCommand({ Resources: [group], Tags: [{ Key: 'env', Value: 'prod' }] }),
    );
    await client.send(new DeleteTagsCommand({ Resources: [group], Tags: [{ Key: 'owner' }] }));
    const left = await client.send(
      new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [group] }] }),
    );
    expect(left.Tags?.map((tag) => tag.Key)).toEqual(['env']);
    const reserved = await client
      .send(new CreateTagsCommand({ Resources: [group], Tags: [{ Key: 'aws:mine', Value: 'x' }] }))
      .catch((e: unknown) => e);
    expect((reserved as EC2ServiceException).name).toBe('InvalidParameterValue');
    const tooMany = await client
      .send(
        new CreateTagsCommand({
          Resources: [group],
          Tags: Array.from({ length: 50 }, (_, index) => ({ Key: `k${index}`, Value: 'v' })),
        }),
      )
      .catch((e: unknown) => e);
    expect((tooMany as EC2ServiceException).name).toBe('TagLimitExceeded');
  });
});

describe('managed prefix lists', () => {
  it('are created, referenced by rules (weighing MaxEntries in the quota), modified by version, and deleted', async () => {
    const created = await client.send(
      new CreateManagedPrefixListCommand({
        PrefixListName: 'partners',
        AddressFamily: 'IPv4',
        MaxEntries: 10,
        Entries: [{ Cidr: '198.51.100.7/24', Description: 'partner a' }],
      }),
    );
    const list = created.PrefixList;
    expect(list).toMatchObject({
      AddressFamily: 'IPv4',
      MaxEntries: 10,
      Version: 1,
      State: 'create-complete',
    });
    const id = list?.PrefixListId ?? '';
    const entries = await client.send(new GetManagedPrefixListEntriesCommand({ PrefixListId: id }));
    expect(entries.Entries).toEqual([{ Cidr: '198.51.100.0/24', Description: 'partner a' }]);

    const group = await createGroup('partners');
    await client.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: group,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, PrefixListIds: [{ PrefixListId: id }] },
        ],
      }),
    );
    const grow = await client
      .send(new ModifyManagedPrefixListCommand({ PrefixListId: id, MaxEntries: 61 }))
      .catch((e: unknown) => e);
    expect((grow as EC2ServiceException).name).toBe('RulesPerSecurityGroupLimitExceeded');

    const modified = await client.send(
      new ModifyManagedPrefixListCommand({
        PrefixListId: id,
        CurrentVersion: 1,
        AddEntries: [{ Cidr: '203.0.113.0/24' }],
        RemoveEntries: [{ Cidr: '198.51.100.0/24' }],
      }),
    );
    expect(modified.PrefixList).toMatchObject({ Version: 2, State: 'modify-complete' });
    const described = await client.send(
      new DescribeManagedPrefixListsCommand({
        Filters: [{ Name: 'prefix-list-name', Values: ['partners'] }],
      }),
    );
    expect(described.PrefixLists?.map((item) => item.PrefixListId)).toEqual([id]);

    const inUse = await client
      .send(new DeleteManagedPrefixListCommand({ PrefixListId: id }))
      .catch((e: unknown) => e);
    expect((inUse as EC2ServiceException).name).toBe('DependencyViolation');
    await client.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: group,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, PrefixListIds: [{ PrefixListId: id }] },
        ],
      }),
    );
    const deleted = await client.send(new DeleteManagedPrefixListCommand({ PrefixListId: id }));
    expect(deleted.PrefixList?.State).toBe('delete-complete');
  });
});

describe('fault injection', () => {
  it('fails an action with a chosen AWS error a given number of times, armed by `sgpods faults`', async () => {
    const add = runCli([
      'faults',
      'add',
      '--home',
      cloud.home,
      '--action',
      'DescribeVpcs',
      '--error',
      'RequestLimitExceeded',
      '--times',
      '2',
    ]);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const first = await client.send(new DescribeVpcsCommand({})).catch((e: unknown) => e);
    expect((first as EC2ServiceException).name).toBe('RequestLimitExceeded');
    expect((first as EC2ServiceException).$metadata.httpStatusCode).toBe(503);
    // The SDK's standard retries absorb the second one.
    const retrying = new EC2Client({
      endpoint: cloud.endpoint.url,
      region: cloud.service.region,
      credentials: cloud.service.credentials,
      maxAttempts: 3,
    });
    const vpcs = await retrying.send(new DescribeVpcsCommand({}));
    expect(vpcs.Vpcs).toHaveLength(1);
    expect(JSON.parse(runCli(['faults', 'list', '--home', cloud.home]).stdout)).toEqual([]);
  });

  it('adds latency, and is cleared by `sgpods faults clear`', async () => {
    runCli(['faults', 'add', '--home', cloud.home, '--action', '*', '--latency-ms', '300']);
    const started = performance.now();
    await client.send(new DescribeVpcsCommand({}));
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    expect(runCli(['faults', 'clear', '--home', cloud.home]).stdout).toMatch(/removed 1/);
    const noHome = runCli(['faults', 'list', '--home', `${cloud.home}/nowhere`]);
    expect(noHome.code).toBe(2);
    expect(noHome.stderr).toMatch(/no cloud in home/);
  });
});
