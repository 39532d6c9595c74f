/**
 * RDS, EKS and IAM of the local cloud as the aws CLI and SDK v3 see them (no kernel here: DB
 * instances become `available` without a server; `cloud-rds` runs real PostgreSQL): the
 * workshop's calls, the wire shapes that trip clients (member names, `<XResult>`, epoch
 * timestamps), waiters, and each service's errors.
 */
import { DescribeClusterCommand, ListClustersCommand } from '@aws-sdk/client-eks';
import {
  AttachRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  ListAttachedRolePoliciesCommand,
  ListRolesCommand,
} from '@aws-sdk/client-iam';
import {
  CreateDBInstanceCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  waitUntilDBInstanceAvailable,
  waitUntilDBInstanceDeleted,
} from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../support/cloud-fixture.js';

async function errorOf(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    const { name, message, Code, $metadata } = error as Record<string, unknown> & Error;
    return {
      name,
      message,
      Code,
      status: ($metadata as { httpStatusCode?: number }).httpStatusCode,
    };
  }
  return { name: 'no error' };
}

describe('RDS, EKS and IAM through the aws CLI and SDK v3', () => {
  let cloud: TestCloud;
  let vpcId = '';
  let rdsGroup = '';

  beforeAll(async () => {
    cloud = await startTestCloud();
    vpcId = cloud.service.network.vpcId;
    rdsGroup = (
      await cloud.awsJson<{ GroupId: string }>([
        'ec2',
        'create-security-group',
        '--description',
        'RDS SG',
        '--group-name',
        'RDS_SG',
        '--vpc-id',
        vpcId,
      ])
    ).GroupId;
  });

  afterAll(async () => {
    await cloud.close();
  });

  it('describes the cluster as the workshop reads it, with epoch timestamps', async () => {
    const cli = await cloud.aws([
      'eks',
      'describe-cluster',
      '--name',
      'eksworkshop-eksctl',
      '--query',
      'cluster.resourcesVpcConfig.vpcId',
      '--output',
      'text',
    ]);
    expect(cli.stdout.trim()).toBe(vpcId);
    const described = await cloud
      .eks()
      .send(new DescribeClusterCommand({ name: 'eksworkshop-eksctl' }));
    expect(described.cluster).toMatchObject({
      name: 'eksworkshop-eksctl',
      status: 'ACTIVE',
      resourcesVpcConfig: {
        vpcId,
        clusterSecurityGroupId: cloud.service.network.clusterSecurityGroupId,
      },
      kubernetesNetworkConfig: { serviceIpv4Cidr: '10.100.0.0/16' },
    });
    expect(described.cluster?.createdAt).toBeInstanceOf(Date);
    expect(described.cluster?.resourcesVpcConfig?.subnetIds).toHaveLength(6);
    expect(described.cluster?.roleArn).toMatch(
      /^arn:aws:iam::123456789012:role\/eksctl-eksworkshop-eksctl-cluster-ServiceRole-[A-Z0-9]{13}$/,
    );
    const listed = await cloud.eks().send(new ListClustersCommand({}));
    expect(listed.clusters).toEqual(['eksworkshop-eksctl']);
    const missing = await errorOf(cloud.eks().send(new DescribeClusterCommand({ name: 'nope' })));
    expect(missing).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
    const missingCli = await cloud.aws(['eks', 'describe-cluster', '--name', 'nope']);
    expect(missingCli.stderr).toContain(
      'An error occurred (ResourceNotFoundException) when calling the DescribeCluster operation: No cluster found for name: nope.',
    );
  });

  it('attaches and detaches AWS-managed policies on the roles eksctl makes', async () => {
    const iam = cloud.iam();
    const roles = await iam.send(new ListRolesCommand({}));
    const nodeRole = roles.Roles?.find((role) => role.RoleName?.includes('NodeInstanceRole'));
    expect(nodeRole?.RoleName).toMatch(/^eksctl-eksworkshop-eksctl-nodegro-NodeInstanceRole-/);
    expect(nodeRole?.RoleName?.length).toBeLessThanOrEqual(64);
    const roleName = nodeRole?.RoleName ?? '';
    const policy = 'arn:aws:iam::aws:policy/AmazonEKSVPCResourceController';
    const attach = await cloud.aws([
      'iam',
      'attach-role-policy',
      '--policy-arn',
      policy,
      '--role-name',
      roleName,
    ]);
    expect(attach).toMatchObject({ code: 0, stdout: '' });
    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }));
    expect(attached.AttachedPolicies?.map((item) => item.PolicyArn)).toContain(policy);
    await iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: policy }));
    const after = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }));
    expect(after.AttachedPolicies?.map((item) => item.PolicyName)).toEqual([
      'AmazonEKSWorkerNodePolicy',
      'AmazonEKS_CNI_Policy',
      'AmazonEC2ContainerRegistryReadOnly',
      'AmazonSSMManagedInstanceCore',
    ]);
    const role = await iam.send(new GetRoleCommand({ RoleName: roleName.toLowerCase() }));
    expect(JSON.parse(decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? ''))).toMatchObject(
      { Statement: [{ Principal: { Service: ['ec2.amazonaws.com'] } }] },
    );
    expect(await errorOf(iam.send(new GetRoleCommand({ RoleName: 'nope' })))).toMatchObject({
      name: 'NoSuchEntityException',
      status: 404,
    });
    expect(
      await errorOf(
        iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: policy })),
      ),
    ).toMatchObject({ name: 'NoSuchEntityException' });
    expect(
      await errorOf(
        iam.send(new AttachRolePolicyCommand({ RoleName: roleName, PolicyArn: 'not-an-arn' })),
      ),
    ).toMatchObject({ name: 'InvalidInputException', status: 400 });
    const cliMissing = await cloud.aws(['iam', 'get-role', '--role-name', 'nope']);
    expect(cliMissing.stderr).toContain(
      'An error occurred (NoSuchEntity) when calling the GetRole operation: The role with name nope cannot be found.',
    );
  });

  it("runs the workshop's RDS steps and cleanup, with RDS's errors", async () => {
    const publicSubnets = (
      await cloud.aws([
        'ec2',
        'describe-subnets',
        '--filters',
        `Name=vpc-id,Values=${vpcId}`,
        'Name=tag:Name,Values=eksctl-eksworkshop-eksctl-cluster/SubnetPublic*',
        '--query',
        'Subnets[*].SubnetId',
        '--output',
        'json',
      ])
    ).stdout;
    const subnetIds = JSON.stringify(JSON.parse(publicSubnets));
    const group = await cloud.awsJson<{ DBSubnetGroup: Record<string, unknown> }>([
      'rds',
      'create-db-subnet-group',
      '--db-subnet-group-name',
      'rds-eksworkshop',
      '--db-subnet-group-description',
      'rds-eksworkshop',
      '--subnet-ids',
      subnetIds,
    ]);
    expect(group.DBSubnetGroup).toMatchObject({
      DBSubnetGroupName: 'rds-eksworkshop',
      VpcId: vpcId,
      SubnetGroupStatus: 'Complete',
      SupportedNetworkTypes: ['IPV4'],
    });
    expect(group.DBSubnetGroup.Subnets).toHaveLength(3);
    const again = await cloud.aws([
      'rds',
      'create-db-subnet-group',
      '--db-subnet-group-name',
      'RDS-EKSWORKSHOP',
      '--db-subnet-group-description',
      'x',
      '--subnet-ids',
      subnetIds,
    ]);
    expect(again.stderr).toContain('(DBSubnetGroupAlreadyExists)');
    const oneZone = await cloud.aws([
      'rds',
      'create-db-subnet-group',
      '--db-subnet-group-name',
      'one-zone',
      '--db-subnet-group-description',
      'x',
      '--subnet-ids',
      (JSON.parse(publicSubnets) as string[])[0] ?? '',
    ]);
    expect(oneZone.stderr).toContain('(DBSubnetGroupDoesNotCoverEnoughAZs)');

    const create = [
      'rds',
      'create-db-instance',
      '--db-instance-identifier',
      'rds-eksworkshop',
      '--db-name',
      'eksworkshop',
      '--db-instance-class',
      'db.t3.micro',
      '--engine',
      'postgres',
      '--db-subnet-group-name',
      'rds-eksworkshop',
      '--vpc-security-group-ids',
      rdsGroup,
      '--master-username',
      'eksworkshop',
      '--publicly-accessible',
      '--master-user-password',
      'c0ffee-c0ffee-c0ffee',
      '--backup-retention-period',
      '0',
      '--allocated-storage',
      '20',
    ];
    const created = await cloud.awsJson<{ DBInstance: Record<string, unknown> }>(create);
    expect(created.DBInstance).toMatchObject({
      DBInstanceIdentifier: 'rds-eksworkshop',
      DBInstanceStatus: 'creating',
      Engine: 'postgres',
      MasterUsername: 'eksworkshop',
      DBName: 'eksworkshop',
      PubliclyAccessible: true,
      BackupRetentionPeriod: 0,
      VpcSecurityGroups: [{ VpcSecurityGroupId: rdsGroup, Status: 'active' }],
    });
    expect(created.DBInstance.Endpoint).toBeUndefined();
    expect((await cloud.aws(create)).stderr).toContain('(DBInstanceAlreadyExists)');

    const rds = cloud.rds();
    await waitUntilDBInstanceAvailable(
      { client: rds, maxWaitTime: 60, minDelay: 1, maxDelay: 1 },
      { DBInstanceIdentifier: 'RDS-EKSWORKSHOP' },
    );
    const status = await cloud.aws([
      'rds',
      'describe-db-instances',
      '--db-instance-identifier',
      'rds-eksworkshop',
      '--query',
      'DBInstances[].DBInstanceStatus',
      '--output',
      'text',
    ]);
    expect(status.stdout.trim()).toBe('available');
    const endpoint = await rds.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'rds-eksworkshop' }),
    );
    const instance = endpoint.DBInstances?.[0];
    expect(instance?.Endpoint?.Address).toMatch(
      /^rds-eksworkshop\.[a-z0-9]{12}\.us-west-2\.rds\.amazonaws\.com$/,
    );
    expect(instance?.Endpoint?.Port).toBe(5432);
    expect(instance?.DBSubnetGroup?.Subnets).toHaveLength(3);

    // The DB's interface carries RDS_SG: the group cannot go while the DB exists.
    const inUse = await cloud.aws(['ec2', 'delete-security-group', '--group-id', rdsGroup]);
    expect(inUse.stderr).toContain('(DependencyViolation)');
    const subnetGroupInUse = await cloud.aws([
      'rds',
      'delete-db-subnet-group',
      '--db-subnet-group-name',
      'rds-eksworkshop',
    ]);
    expect(subnetGroupInUse.stderr).toContain('(InvalidDBSubnetGroupStateFault)');

    // ModifyDBInstance moves the DB to another group (an empty list means the VPC default).
    const other = cloud.service.network.defaultSecurityGroupId;
    const modified = await rds.send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: 'rds-eksworkshop',
        VpcSecurityGroupIds: [],
        ApplyImmediately: true,
      }),
    );
    expect(modified.DBInstance?.VpcSecurityGroups).toEqual([
      { VpcSecurityGroupId: other, Status: 'active' },
    ]);

    const bad: [Record<string, unknown>, string][] = [
      [{ DBInstanceIdentifier: '1bad' }, 'InvalidParameterValue'],
      [{ MasterUserPassword: 'short' }, 'InvalidParameterValue'],
      [{ Engine: 'mysql' }, 'InvalidParameterValue'],
      [{ DBSubnetGroupName: 'nope' }, 'DBSubnetGroupNotFoundFault'],
      [{ VpcSecurityGroupIds: ['sg-00000000000000000'] }, 'InvalidParameterValue'],
    ];
    for (const [overrides, name] of bad) {
      const error = await errorOf(
        rds.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: 'other-db',
            DBInstanceClass: 'db.t3.micro',
            Engine: 'postgres',
            MasterUsername: 'eksworkshop',
            MasterUserPassword: 'a-good-password',
            DBSubnetGroupName: 'rds-eksworkshop',
            ...overrides,
          }),
        ),
      );
      expect(error.name, JSON.stringify(overrides)).toBe(name);
    }
    expect(cloud.service.store.rds.instances().map((row) => row.identifier)).toEqual([
      'rds-eksworkshop',
    ]);

    const noChoice = await errorOf(
      rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'rds-eksworkshop' })),
    );
    expect(noChoice.name).toBe('InvalidParameterCombination');
    const deleted = await cloud.awsJson<{ DBInstance: Record<string, unknown> }>([
      'rds',
      'delete-db-instance',
      '--db-instance-identifier',
      'rds-eksworkshop',
      '--delete-automated-backups',
      '--skip-final-snapshot',
    ]);
    expect(deleted.DBInstance.DBInstanceStatus).toBe('deleting');
    await waitUntilDBInstanceDeleted(
      { client: rds, maxWaitTime: 60, minDelay: 1, maxDelay: 1 },
      { DBInstanceIdentifier: 'rds-eksworkshop' },
    );
    const gone = await cloud.aws([
      'rds',
      'describe-db-instances',
      '--db-instance-identifier',
      'rds-eksworkshop',
    ]);
    expect(gone.stderr).toContain(
      'An error occurred (DBInstanceNotFound) when calling the DescribeDBInstances operation: DBInstance rds-eksworkshop not found.',
    );
    expect(
      await errorOf(
        rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'rds-eksworkshop' })),
      ),
    ).toMatchObject({ name: 'DBInstanceNotFoundFault', Code: 'DBInstanceNotFound', status: 404 });
    for (const args of [
      ['ec2', 'delete-security-group', '--group-id', rdsGroup],
      ['rds', 'delete-db-subnet-group', '--db-subnet-group-name', 'rds-eksworkshop'],
    ]) {
      const result = await cloud.aws(args);
      expect(result.code, result.stderr).toBe(0);
    }
    // The DB's interface went with it.
    expect(
      cloud.service.store.compute
        .networkInterfaces()
        .filter((row) => row.description === 'RDSNetworkInterface'),
    ).toEqual([]);
  });
});
