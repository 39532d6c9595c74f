/**
 * The workshop's RDS on real PostgreSQL against `sgpods cloud` with only `aws-env` sourced: the
 * prerequisites, the security groups and the DB as the workshop makes them, then a DB that
 * survives kill -9 of the cloud with its data, and password, group and reboot changes applied.
 * (psql admitted and refused by RDS_SG, IAM and the workshop's cleanup run end to end in
 * `workshop-shell`; DependencyViolation and DBInstanceNotFound in the component tests.)
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
