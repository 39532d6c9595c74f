/**
 * The workshop's aws steps, verbatim, against `sgpods cloud` with only `aws-env` sourced: the
 * prerequisites, the security groups, the RDS PostgreSQL, and psql from an instance whose group
 * RDS_SG admits (the rows go in) and from one whose group it does not (`timeout expired`); IAM
 * on the node group role; the workshop's cleanup; and a DB that survives kill -9 of the cloud.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloudProcess } from '../support/cloud-process.js';
import { runCli } from '../support/run-cli.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';
import { waitFor } from '../support/wait-for.js';

/** The workshop's prerequisite, security-group and RDS steps (eksworkshop.com, sg-per-pod). */
const workshopSetup = `
export VPC_ID=$(aws eks describe-cluster --name eksworkshop-eksctl --query "cluster.resourcesVpcConfig.vpcId" --output text)
aws ec2 create-security-group --description 'POD SG' --group-name 'POD_SG' --vpc-id \${VPC_ID} >/dev/null
export POD_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=POD_SG Name=vpc-id,Values=\${VPC_ID} --query "SecurityGroups[0].GroupId" --output text)
export NODE_GROUP_SG=$(aws ec2 describe-security-groups --filters Name=tag:Name,Values=eks-cluster-sg-eksworkshop-eksctl-* Name=vpc-id,Values=\${VPC_ID} --query "SecurityGroups[0].GroupId" --output text)
aws ec2 authorize-security-group-ingress --group-id \${NODE_GROUP_SG} --protocol tcp --port 53 --source-group \${POD_SG} >/dev/null
aws ec2 authorize-security-group-ingress --group-id \${NODE_GROUP_SG} --protocol udp --port 53 --source-group \${POD_SG} >/dev/null
aws ec2 create-security-group --description 'RDS SG' --group-name 'RDS_SG' --vpc-id \${VPC_ID} >/dev/null
export RDS_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=RDS_SG Name=vpc-id,Values=\${VPC_ID} --query "SecurityGroups[0].GroupId" --output text)
aws ec2 authorize-security-group-ingress --group-id \${RDS_SG} --protocol tcp --port 5432 --source-group \${POD_SG} >/dev/null
export PUBLIC_SUBNETS_ID=$(aws ec2 describe-subnets --filters "Name=vpc-id,Values=$VPC_ID" "Name=tag:Name,Values=eksctl-eksworkshop-eksctl-cluster/SubnetPublic*" --query 'Subnets[*].SubnetId' --output json | jq -c .)
aws rds create-db-subnet-group --db-subnet-group-name rds-eksworkshop --db-subnet-group-description rds-eksworkshop --subnet-ids \${PUBLIC_SUBNETS_ID} >/dev/null
export RDS_PASSWORD="$(date | md5sum |cut -f1 -d' ')"
aws rds create-db-instance --db-instance-identifier rds-eksworkshop --db-name eksworkshop --db-instance-class db.t3.micro --engine postgres --db-subnet-group-name rds-eksworkshop --vpc-security-group-ids $RDS_SG --master-username eksworkshop --publicly-accessible --master-user-password \${RDS_PASSWORD} --backup-retention-period 0 --allocated-storage 20 >/dev/null
echo "POD_SG=$POD_SG NODE_GROUP_SG=$NODE_GROUP_SG RDS_SG=$RDS_SG RDS_PASSWORD=$RDS_PASSWORD"
`;

const pgsql = `CREATE TABLE welcome (column1 TEXT);
insert into welcome values ('--------------------------');
insert into welcome values ('Welcome to the eksworkshop');
insert into welcome values ('--------------------------');
`;

function variables(output: string): Record<string, string> {
  return Object.fromEntries(
    output
      .trim()
      .split(/\s+/)
      .map((pair) => pair.split('=') as [string, string]),
  );
}

describe.skipIf(!isRoot)("the workshop's RDS on real PostgreSQL", () => {
  let home: TestHome;
  let cloud: CloudProcess;

  beforeEach(async () => {
    home = createTestHome();
    cloud = await CloudProcess.start(home.home);
  });

  afterEach(async () => {
    await cloud.stop();
    const down = runCli(['down', '--home', home.home, '--purge']);
    expect(down.code).toBe(0);
    await home.cleanup();
    expect(await home.ownedNamespaces()).toEqual([]);
  });

  async function setUp(): Promise<Record<string, string>> {
    const vars = variables(await cloud.shOk(workshopSetup));
    await waitFor(
      async () =>
        (await cloud.shOk(
          `aws rds describe-db-instances --db-instance-identifier rds-eksworkshop --query "DBInstances[].DBInstanceStatus" --output text`,
        )) === 'available',
      { timeoutMs: 120_000, what: 'the DB to be available', intervalMs: 500 },
    );
    vars.RDS_ENDPOINT = await cloud.shOk(
      `aws rds describe-db-instances --db-instance-identifier rds-eksworkshop --query 'DBInstances[0].Endpoint.Address' --output text`,
    );
    return vars;
  }

  async function launch(groupId: string): Promise<string> {
    const id = await cloud.shOk(
      `aws ec2 run-instances --image-id ami-0123456789abcdef0 --instance-type m5.large --count 1 --subnet-id "$(aws ec2 describe-subnets --filters 'Name=tag:Name,Values=*PublicUSWEST2B*' --query 'Subnets[0].SubnetId' --output text)" --security-group-ids ${groupId} --query 'Instances[0].InstanceId' --output text`,
    );
    await waitFor(
      async () =>
        (await cloud.shOk(
          `aws ec2 describe-instances --instance-ids ${id} --query 'Reservations[0].Instances[0].State.Name' --output text`,
        )) === 'running',
      { timeoutMs: 30_000, what: `${id} to run` },
    );
    return id;
  }

  it('admits psql from the allowed group and times out from the other; IAM; cleanup', async () => {
    const vars = await setUp();
    const url = `postgresql://eksworkshop:${vars.RDS_PASSWORD ?? ''}@${vars.RDS_ENDPOINT ?? ''}:5432/eksworkshop`;
    const green = await launch(vars.POD_SG ?? '');
    const red = await launch(vars.NODE_GROUP_SG ?? '');

    const loaded = await cloud.exec(green, ['psql', url, '-f', '-'], pgsql);
    expect(loaded.stderr).toBe('');
    expect(loaded.stdout).toBe('CREATE TABLE\nINSERT 0 1\nINSERT 0 1\nINSERT 0 1\n');
    const rows = await cloud.exec(green, ['psql', url, '-At', '-c', 'select column1 from welcome']);
    expect(rows.stdout).toContain('Welcome to the eksworkshop');
    const denied = await cloud.exec(red, [
      'env',
      'PGCONNECT_TIMEOUT=3',
      'psql',
      url,
      '-c',
      'select 1',
    ]);
    expect(denied.code).toBe(2);
    expect(denied.stderr).toContain('timeout expired');

    // IAM on the node group role, as the workshop's cluster prerequisites do.
    const iam = await cloud.sh(`
      ROLE_NAME=$(aws iam list-roles --query "Roles[?contains(RoleName, 'NodeInstanceRole')].RoleName" --output text)
      aws iam attach-role-policy --policy-arn arn:aws:iam::aws:policy/AmazonEKSVPCResourceController --role-name \${ROLE_NAME}
      aws iam list-attached-role-policies --role-name \${ROLE_NAME} --query 'AttachedPolicies[].PolicyName' --output text
      aws iam detach-role-policy --policy-arn arn:aws:iam::aws:policy/AmazonEKSVPCResourceController --role-name \${ROLE_NAME}
    `);
    expect(iam.code, iam.stderr).toBe(0);
    expect(iam.stdout).toContain('AmazonEKSVPCResourceController');

    // Cleanup as the workshop does it.
    const cleanup = await cloud.sh(`
      set +e
      aws ec2 delete-security-group --group-id ${vars.RDS_SG ?? ''} 2>&1
      aws rds delete-db-instance --db-instance-identifier rds-eksworkshop --delete-automated-backups --skip-final-snapshot --query 'DBInstance.DBInstanceStatus' --output text
      aws rds wait db-instance-deleted --db-instance-identifier rds-eksworkshop
      aws rds describe-db-instances --db-instance-identifier rds-eksworkshop 2>&1
      aws ec2 terminate-instances --instance-ids ${green} ${red} >/dev/null
      aws ec2 wait instance-terminated --instance-ids ${green} ${red}
      aws ec2 revoke-security-group-ingress --group-id ${vars.NODE_GROUP_SG ?? ''} --protocol tcp --port 53 --source-group ${vars.POD_SG ?? ''} >/dev/null
      aws ec2 revoke-security-group-ingress --group-id ${vars.NODE_GROUP_SG ?? ''} --protocol udp --port 53 --source-group ${vars.POD_SG ?? ''} >/dev/null
      aws ec2 delete-security-group --group-id ${vars.RDS_SG ?? ''} && echo deleted RDS_SG
      aws ec2 delete-security-group --group-id ${vars.POD_SG ?? ''} && echo deleted POD_SG
      aws rds delete-db-subnet-group --db-subnet-group-name rds-eksworkshop && echo deleted subnet group
    `);
    expect(cleanup.stdout).toContain('An error occurred (DependencyViolation)');
    expect(cleanup.stdout).toContain('deleting');
    expect(cleanup.stdout).toContain(
      'An error occurred (DBInstanceNotFound) when calling the DescribeDBInstances operation',
    );
    expect(cleanup.stdout).toContain('deleted RDS_SG');
    expect(cleanup.stdout).toContain('deleted POD_SG');
    expect(cleanup.stdout).toContain('deleted subnet group');
    expect(
      (await home.ownedNamespaces()).filter((name) => name.startsWith(`${home.prefix}d`)),
    ).toEqual([]);
  });

  it('brings the DB back with its data after kill -9 of the cloud; applies password, group and reboot changes', async () => {
    const vars = await setUp();
    const url = `postgresql://eksworkshop:${vars.RDS_PASSWORD ?? ''}@${vars.RDS_ENDPOINT ?? ''}:5432/eksworkshop`;
    const green = await launch(vars.POD_SG ?? '');
    expect((await cloud.exec(green, ['psql', url, '-f', '-'], pgsql)).code).toBe(0);
    await cloud.crash();
    cloud = await CloudProcess.start(home.home);
    expect(
      await cloud.shOk(
        `aws rds describe-db-instances --db-instance-identifier rds-eksworkshop --query "DBInstances[].DBInstanceStatus" --output text`,
      ),
    ).toBe('available');
    const rows = await cloud.exec(green, [
      'psql',
      url,
      '-At',
      '-c',
      'select count(*) from welcome',
    ]);
    expect(rows.stdout.trim()).toBe('3');
  });
});
