/**
 * Every EC2 error the security-group API promises, produced through both real clients: the aws
 * CLI prints `An error occurred (Code) when calling the Op operation: …` and exits 255; SDK v3
 * throws an EC2ServiceException whose name is the code. A rejected call changes nothing.
 */
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateManagedPrefixListCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2ServiceException,
  ModifyManagedPrefixListCommand,
  RevokeSecurityGroupIngressCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../support/cloud-fixture.js';

let cloud: TestCloud;
let client: EC2Client;
let vpcId: string;
let podGroup: string;
let rdsGroup: string;
let defaultGroup: string;
let prefixList: string;
const unknownGroup = 'sg-0123456789abcdef0';

beforeAll(async () => {
  cloud = await startTestCloud();
  client = cloud.ec2();
  vpcId = cloud.service.network.vpcId;
  defaultGroup = cloud.service.network.defaultSecurityGroupId;
  const create = async (name: string) =>
    (
      await client.send(
        new CreateSecurityGroupCommand({ GroupName: name, Description: name, VpcId: vpcId }),
      )
    ).GroupId ?? '';
  podGroup = await create('POD_SG');
  rdsGroup = await create('RDS_SG');
  await client.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: rdsGroup,
      IpPermissions: [
        {
          IpProtocol: 'tcp',
          FromPort: 5432,
          ToPort: 5432,
          UserIdGroupPairs: [{ GroupId: podGroup }],
        },
        { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
      ],
    }),
  );
  prefixList =
    (
      await client.send(
        new CreateManagedPrefixListCommand({
          PrefixListName: 'office',
          AddressFamily: 'IPv4',
          MaxEntries: 5,
          Entries: [{ Cidr: '203.0.113.0/24' }],
        }),
      )
    ).PrefixList?.PrefixListId ?? '';
});
afterAll(async () => {
  await cloud.close();
});

interface ErrorCase {
  readonly code: string;
  readonly status?: number;
  readonly message: RegExp;
  readonly cli: () => string[];
  /** An SDK command (typed loosely: every command class is a different type). */
  readonly sdk: () => object;
}

const manyCidrs = Array.from({ length: 61 }, (_, index) => `10.9.${index}.0/24`);

const cases: Record<string, ErrorCase> = {
  'an unknown group id': {
    code: 'InvalidGroup.NotFound',
    message: /The security group 'sg-0123456789abcdef0' does not exist/,
    cli: () => ['ec2', 'describe-security-groups', '--group-ids', unknownGroup],
    sdk: () => new DescribeSecurityGroupsCommand({ GroupIds: [unknownGroup] }),
  },
  'a malformed group id': {
    code: 'InvalidGroupId.Malformed',
    message: /Invalid id: "POD_SG" \(expecting "sg-\.\.\."\)/,
    cli: () => ['ec2', 'delete-security-group', '--group-id', 'POD_SG'],
    sdk: () => new DeleteSecurityGroupCommand({ GroupId: 'POD_SG' }),
  },
  'a duplicate group name, in another case': {
    code: 'InvalidGroup.Duplicate',
    message: /The security group 'pod_sg' already exists for VPC 'vpc-[0-9a-f]{17}'/,
    cli: () => [
      'ec2',
      'create-security-group',
      '--group-name',
      'pod_sg',
      '--description',
      'x',
      '--vpc-id',
      vpcId,
    ],
    sdk: () =>
      new CreateSecurityGroupCommand({ GroupName: 'pod_sg', Description: 'x', VpcId: vpcId }),
  },
  'the reserved name default': {
    code: 'InvalidGroup.Reserved',
    message: /The security group 'default' is reserved/,
    cli: () => [
      'ec2',
      'create-security-group',
      '--group-name',
      'default',
      '--description',
      'x',
      '--vpc-id',
      vpcId,
    ],
    sdk: () =>
      new CreateSecurityGroupCommand({ GroupName: 'default', Description: 'x', VpcId: vpcId }),
  },
  'a rule a new group already has (all traffic out)': {
    code: 'InvalidPermission.Duplicate',
    message: /the specified rule "peer: 0\.0\.0\.0\/0, ALL, ALLOW" already exists/,
    cli: () => [
      'ec2',
      'authorize-security-group-egress',
      '--group-id',
      podGroup,
      '--protocol',
      'all',
      '--cidr',
      '0.0.0.0/0',
    ],
    sdk: () =>
      new AuthorizeSecurityGroupEgressCommand({
        GroupId: podGroup,
        IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
  },
  'a duplicate written as a non-canonical CIDR': {
    code: 'InvalidPermission.Duplicate',
    message:
      /the specified rule "peer: 10\.0\.0\.0\/8, TCP, from port: 22, to port: 22, ALLOW" already exists/,
    cli: () => [
      'ec2',
      'authorize-security-group-ingress',
      '--group-id',
      rdsGroup,
      '--protocol',
      'tcp',
      '--port',
      '22',
      '--cidr',
      '10.1.2.3/8',
    ],
    sdk: () =>
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: rdsGroup,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.1.2.3/8' }] },
        ],
      }),
  },
  'revoking a rule that does not exist': {
    code: 'InvalidPermission.NotFound',
    message: /The specified rule does not exist in this security group\./,
    cli: () => [
      'ec2',
      'revoke-security-group-ingress',
      '--group-id',
      rdsGroup,
      '--protocol',
      'tcp',
      '--port',
      '23',
      '--cidr',
      '10.0.0.0/8',
    ],
    sdk: () =>
      new RevokeSecurityGroupIngressCommand({
        GroupId: rdsGroup,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 23, ToPort: 23, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
        ],
      }),
  },
  'a permission without any peer': {
    code: 'InvalidPermission.Malformed',
    message: /The specified security group rule is malformed/,
    cli: () => [
      'ec2',
      'authorize-security-group-ingress',
      '--group-id',
      rdsGroup,
      '--ip-permissions',
      'IpProtocol=tcp,FromPort=1,ToPort=2',
    ],
    sdk: () =>
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: rdsGroup,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 1, ToPort: 2 }],
      }),
  },
  'deleting a group another group references': {
    code: 'DependencyViolation',
    message: /resource sg-[0-9a-f]{17} has a dependent object/,
    cli: () => ['ec2', 'delete-security-group', '--group-id', podGroup],
    sdk: () => new DeleteSecurityGroupCommand({ GroupId: podGroup }),
  },
  'deleting the default group': {
    code: 'CannotDelete',
    message: /the specified group: "sg-[0-9a-f]{17}" name: "default" cannot be deleted by a user/,
    cli: () => ['ec2', 'delete-security-group', '--group-id', defaultGroup],
    sdk: () => new DeleteSecurityGroupCommand({ GroupId: defaultGroup }),
  },
  'more than 60 rules in a direction': {
    code: 'RulesPerSecurityGroupLimitExceeded',
    message: /The maximum number of rules per security group has been reached\./,
    cli: () => [
      'ec2',
      'authorize-security-group-ingress',
      '--group-id',
      podGroup,
      '--ip-permissions',
      JSON.stringify([
        {
          IpProtocol: 'tcp',
          FromPort: 80,
          ToPort: 80,
          IpRanges: manyCidrs.map((CidrIp) => ({ CidrIp })),
        },
      ]),
    ],
    sdk: () =>
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: podGroup,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 80,
            ToPort: 80,
            IpRanges: manyCidrs.map((CidrIp) => ({ CidrIp })),
          },
        ],
      }),
  },
  'no group named at all': {
    code: 'MissingParameter',
    message: /The request must contain the parameter groupName or groupId/,
    cli: () => ['ec2', 'delete-security-group'],
    sdk: () => new DeleteSecurityGroupCommand({}),
  },
  'a CIDR that is not one': {
    code: 'InvalidParameterValue',
    message: /CIDR block 10\.0\.0\.0\/33 is malformed/,
    cli: () => [
      'ec2',
      'authorize-security-group-ingress',
      '--group-id',
      podGroup,
      '--protocol',
      'tcp',
      '--port',
      '80',
      '--cidr',
      '10.0.0.0/33',
    ],
    sdk: () =>
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: podGroup,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '10.0.0.0/33' }] },
        ],
      }),
  },
  'an unknown filter': {
    code: 'InvalidParameterValue',
    message: /The filter 'flavour' is invalid/,
    cli: () => ['ec2', 'describe-security-groups', '--filters', 'Name=flavour,Values=x'],
    sdk: () => new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'flavour', Values: ['x'] }] }),
  },
  'an unknown VPC': {
    code: 'InvalidVpcID.NotFound',
    message: /The vpc ID 'vpc-0123456789abcdef0' does not exist/,
    cli: () => [
      'ec2',
      'create-security-group',
      '--group-name',
      'x',
      '--description',
      'x',
      '--vpc-id',
      'vpc-0123456789abcdef0',
    ],
    sdk: () =>
      new CreateSecurityGroupCommand({
        GroupName: 'x',
        Description: 'x',
        VpcId: 'vpc-0123456789abcdef0',
      }),
  },
  'no VPC (this account has no default VPC)': {
    code: 'VPCIdNotSpecified',
    message: /No default VPC for this user/,
    cli: () => ['ec2', 'create-security-group', '--group-name', 'x', '--description', 'x'],
    sdk: () => new CreateSecurityGroupCommand({ GroupName: 'x', Description: 'x' }),
  },
  'an unknown rule id': {
    code: 'InvalidSecurityGroupRuleId.NotFound',
    message: /The security group rule ID 'sgr-0123456789abcdef0' does not exist/,
    cli: () => [
      'ec2',
      'revoke-security-group-ingress',
      '--group-id',
      podGroup,
      '--security-group-rule-ids',
      'sgr-0123456789abcdef0',
    ],
    sdk: () =>
      new RevokeSecurityGroupIngressCommand({
        GroupId: podGroup,
        SecurityGroupRuleIds: ['sgr-0123456789abcdef0'],
      }),
  },
  'a malformed rule id': {
    code: 'InvalidSecurityGroupRuleId.Malformed',
    message: /Invalid id: "rule-1" \(expecting "sgr-\.\.\."\)/,
    cli: () => ['ec2', 'describe-security-group-rules', '--security-group-rule-ids', 'rule-1'],
    sdk: () => new DescribeSecurityGroupRulesCommand({ SecurityGroupRuleIds: ['rule-1'] }),
  },
  'an unknown prefix list': {
    code: 'InvalidPrefixListID.NotFound',
    message: /The prefix list ID 'pl-0123456789abcdef0' does not exist/,
    cli: () => [
      'ec2',
      'authorize-security-group-ingress',
      '--group-id',
      podGroup,
      '--ip-permissions',
      'IpProtocol=tcp,FromPort=1,ToPort=1,PrefixListIds=[{PrefixListId=pl-0123456789abcdef0}]',
    ],
    sdk: () =>
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: podGroup,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 1,
            ToPort: 1,
            PrefixListIds: [{ PrefixListId: 'pl-0123456789abcdef0' }],
          },
        ],
      }),
  },
  'a stale prefix-list version': {
    code: 'PrefixListVersionMismatch',
    message: /has version 1, not 7/,
    cli: () => [
      'ec2',
      'modify-managed-prefix-list',
      '--prefix-list-id',
      prefixList,
      '--current-version',
      '7',
      '--add-entries',
      'Cidr=198.51.100.0/24',
    ],
    sdk: () =>
      new ModifyManagedPrefixListCommand({
        PrefixListId: prefixList,
        CurrentVersion: 7,
        AddEntries: [{ Cidr: '198.51.100.0/24' }],
      }),
  },
  'tagging an id of no known kind': {
    code: 'InvalidID',
    message: /The ID 'foo-123' is not valid/,
    cli: () => ['ec2', 'create-tags', '--resources', 'foo-123', '--tags', 'Key=a,Value=b'],
    sdk: () => new CreateTagsCommand({ Resources: ['foo-123'], Tags: [{ Key: 'a', Value: 'b' }] }),
  },
  'group ids with a page size': {
    code: 'InvalidParameterCombination',
    message: /The parameter groupIds cannot be used with the parameter maxResults/,
    cli: () => ['ec2', 'describe-security-groups', '--group-ids', podGroup, '--page-size', '5'],
    sdk: () => new DescribeSecurityGroupsCommand({ GroupIds: [podGroup], MaxResults: 5 }),
  },
  'a dry run that would succeed': {
    code: 'DryRunOperation',
    status: 412,
    message: /Request would have succeeded, but DryRun flag is set\./,
    cli: () => [
      'ec2',
      'create-security-group',
      '--dry-run',
      '--group-name',
      'DRY',
      '--description',
      'x',
      '--vpc-id',
      vpcId,
    ],
    sdk: () =>
      new CreateSecurityGroupCommand({
        DryRun: true,
        GroupName: 'DRY',
        Description: 'x',
        VpcId: vpcId,
      }),
  },
};

async function stateSnapshot(): Promise<string> {
  const groups = await client.send(new DescribeSecurityGroupsCommand({}));
  return JSON.stringify(groups.SecurityGroups);
}

describe('EC2 errors through the aws CLI and SDK v3', () => {
  it.each(Object.entries(cases))('%s', async (_name, errorCase) => {
    const before = await stateSnapshot();
    const operation = errorCase.sdk().constructor.name.replace(/Command$/, '');
    const [cli, sdkError] = await Promise.all([
      cloud.aws(errorCase.cli()),
      client.send(errorCase.sdk() as Parameters<EC2Client['send']>[0]).then(
        () => undefined,
        (error: unknown) => error,
      ),
    ]);
    expect(cli.stdout).toBe('');
    expect(cli.code).toBe(255);
    expect(cli.stderr.trim()).toMatch(
      new RegExp(
        `^An error occurred \\(${errorCase.code.replace('.', '\\.')}\\) when calling the ${operation} operation: `,
      ),
    );
    expect(cli.stderr).toMatch(errorCase.message);
    expect(sdkError).toBeInstanceOf(EC2ServiceException);
    const exception = sdkError as EC2ServiceException;
    expect(exception.name).toBe(errorCase.code);
    expect(exception.message).toMatch(errorCase.message);
    expect(exception.$metadata.httpStatusCode).toBe(errorCase.status ?? 400);
    expect(exception.$fault).toBe('client');
    expect(await stateSnapshot()).toBe(before);
  });

  it('rejects a call whose second permission is bad without writing its first', async () => {
    const before = await stateSnapshot();
    const error = await client
      .send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: podGroup,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
            {
              IpProtocol: 'tcp',
              FromPort: 443,
              ToPort: 443,
              UserIdGroupPairs: [{ GroupId: unknownGroup }],
            },
          ],
        }),
      )
      .catch((e: unknown) => e);
    expect((error as EC2ServiceException).name).toBe('InvalidGroup.NotFound');
    expect(await stateSnapshot()).toBe(before);
  });

  it('refuses a group beyond the region quota of 2,500', async () => {
    const full = await startTestCloud();
    try {
      const { store } = full.service;
      const vpc = full.service.network.vpcId;
      store.transaction(() => {
        for (let index = store.groupCount(); index < 2500; index++) {
          store.insertGroup({
            groupId: `sg-${index.toString(16).padStart(17, '0')}`,
            vpcId: vpc,
            groupName: `filler-${index}`,
            description: 'filler',
            ownerId: '123456789012',
          });
        }
      });
      const [cli, sdkError] = await Promise.all([
        full.aws([
          'ec2',
          'create-security-group',
          '--group-name',
          'one-more',
          '--description',
          'x',
          '--vpc-id',
          vpc,
        ]),
        full
          .ec2()
          .send(
            new CreateSecurityGroupCommand({ GroupName: 'one-more', Description: 'x', VpcId: vpc }),
          )
          .catch((e: unknown) => e),
      ]);
      expect(cli.stderr).toMatch(/An error occurred \(SecurityGroupLimitExceeded\)/);
      expect((sdkError as EC2ServiceException).name).toBe('SecurityGroupLimitExceeded');
    } finally {
      await full.close();
    }
  });
});
