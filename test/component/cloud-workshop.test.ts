/**
 * The workshop's security-group steps, verbatim, against `sgpods cloud` with only its `aws-env`
 * sourced: find the VPC and the cluster group, create POD_SG and RDS_SG, authorise DNS and
 * PostgreSQL by source group and CIDR, then revoke and delete as the cleanup does. Also: SIGTERM
 * stops the cloud cleanly and a restart resumes the same state on the same port.
 */
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudProcess } from '../support/cloud-process.js';
import { runCli } from '../support/run-cli.js';
import { spawnSync } from 'node:child_process';
import { cliPath } from '../support/run-cli.js';
import { createTestHome, isRoot } from '../support/test-home.js';

// A test home: if this run is killed, the next CI run's sweep stops this cloud (`sgpods down`).
const testHome = createTestHome();
const home = testHome.home;
let cloud: CloudProcess;

beforeAll(async () => {
  cloud = await CloudProcess.start(home, ['--no-dataplane']);
});
afterAll(async () => {
  await cloud.stop();
  runCli(['down', '--home', home, '--purge']);
  await testHome.cleanup();
});

const findVpc = `export VPC_ID=$(aws ec2 describe-vpcs --filters Name=tag:alpha.eksctl.io/cluster-name,Values=eksworkshop-eksctl --query "Vpcs[0].VpcId" --output text)`;
const findGroups = `
export POD_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=POD_SG Name=vpc-id,Values=$VPC_ID --query "SecurityGroups[0].GroupId" --output text)
export RDS_SG=$(aws ec2 describe-security-groups --filters Name=group-name,Values=RDS_SG Name=vpc-id,Values=$VPC_ID --query "SecurityGroups[0].GroupId" --output text)
export NODE_GROUP_SG=$(aws ec2 describe-security-groups --filters Name=tag:Name,Values=eks-cluster-sg-eksworkshop-eksctl-* Name=vpc-id,Values=$VPC_ID --query "SecurityGroups[0].GroupId" --output text)`;

describe('the workshop against sgpods cloud', () => {
  it('writes aws-env (0600) with what the aws CLI and the SDK need', () => {
    const env = cloud.env();
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining([
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_REGION',
        'AWS_DEFAULT_REGION',
        'AWS_ENDPOINT_URL',
      ]),
    );
    expect(env.AWS_REGION).toBe('us-west-2');
    expect(env.AWS_ENDPOINT_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(statSync(cloud.awsEnv).mode & 0o777).toBe(0o600);
    for (const file of ['cloud.sqlite', 'cloud.sqlite-wal']) {
      expect(statSync(`${home}/${file}`).mode & 0o777, file).toBe(0o600);
    }
  });

  it('creates the groups and authorises DNS and PostgreSQL as the workshop does', async () => {
    const result = await cloud.sh(`
${findVpc}
aws ec2 describe-subnets --filters "Name=vpc-id,Values=$VPC_ID" "Name=tag:Name,Values=eksctl-eksworkshop-eksctl-cluster/SubnetPublic*" --query 'Subnets[*].SubnetId' --output json | tr -d ' \\n'; echo
aws ec2 create-security-group --description 'POD SG' --group-name 'POD_SG' --vpc-id $VPC_ID > /dev/null
aws ec2 create-security-group --description 'RDS SG' --group-name 'RDS_SG' --vpc-id $VPC_ID > /dev/null
${findGroups}
echo "POD_SG=$POD_SG RDS_SG=$RDS_SG NODE_GROUP_SG=$NODE_GROUP_SG"
aws ec2 authorize-security-group-ingress --group-id $NODE_GROUP_SG --protocol tcp --port 53 --source-group $POD_SG > /dev/null
aws ec2 authorize-security-group-ingress --group-id $NODE_GROUP_SG --protocol udp --port 53 --source-group $POD_SG > /dev/null
aws ec2 authorize-security-group-ingress --group-id $RDS_SG --protocol tcp --port 5432 --source-group $POD_SG > /dev/null
aws ec2 authorize-security-group-ingress --group-id $RDS_SG --protocol tcp --port 5432 --cidr 192.168.0.0/16 > /dev/null
aws ec2 describe-security-groups --group-ids $RDS_SG --query 'SecurityGroups[0].IpPermissions' --output json
`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [subnets = '', ids = '', ...rest] = result.stdout.split('\n');
    expect(JSON.parse(subnets)).toHaveLength(3);
    const groups = Object.fromEntries(ids.split(' ').map((pair) => pair.split('=')));
    for (const id of Object.values(groups)) expect(id).toMatch(/^sg-[0-9a-f]{17}$/);
    const permissions = JSON.parse(rest.join('\n')) as unknown;
    expect(permissions).toEqual([
      {
        IpProtocol: 'tcp',
        FromPort: 5432,
        ToPort: 5432,
        UserIdGroupPairs: [{ GroupId: groups.POD_SG, UserId: '123456789012' }],
        IpRanges: [{ CidrIp: '192.168.0.0/16' }],
        Ipv6Ranges: [],
        PrefixListIds: [],
      },
    ]);
  });

  it('prints None when no group matches, and AWS errors with exit code 255', async () => {
    const none = await cloud.sh(`${findVpc}
aws ec2 describe-security-groups --filters Name=group-name,Values=NO_SUCH_SG Name=vpc-id,Values=$VPC_ID --query "SecurityGroups[0].GroupId" --output text`);
    expect(none.stdout.trim()).toBe('None');
    const duplicate = await cloud.sh(`${findVpc}
${findGroups}
aws ec2 authorize-security-group-ingress --group-id $RDS_SG --protocol tcp --port 5432 --source-group $POD_SG`);
    expect(duplicate.code).toBe(255);
    expect(duplicate.stderr).toMatch(
      /An error occurred \(InvalidPermission\.Duplicate\) when calling the AuthorizeSecurityGroupIngress operation: the specified rule "peer: sg-[0-9a-f]{17}, TCP, from port: 5432, to port: 5432, ALLOW" already exists/,
    );
  });

  it('survives a restart (SIGTERM, start again): same state, same port', async () => {
    const before = cloud.env().AWS_ENDPOINT_URL;
    expect(await cloud.stop()).toBe(0);
    cloud = await CloudProcess.start(home, ['--no-dataplane']);
    expect(cloud.env().AWS_ENDPOINT_URL).toBe(before);
    const result = await cloud.sh(`${findVpc}
${findGroups}
aws ec2 describe-security-group-rules --filters Name=group-id,Values=$RDS_SG --query 'SecurityGroupRules[?IsEgress==\`false\`].FromPort' --output text`);
    expect(result.stdout.trim().split(/\s+/)).toEqual(['5432', '5432']);
  });

  it('cleans up as the workshop does: revoke, then delete (DependencyViolation before)', async () => {
    const result = await cloud.sh(`${findVpc}
${findGroups}
aws ec2 delete-security-group --group-id $POD_SG 2>&1 || true
aws ec2 revoke-security-group-ingress --group-id $RDS_SG --protocol tcp --port 5432 --source-group $POD_SG --query 'RevokedSecurityGroupRules[0].ReferencedGroupId' --output text
aws ec2 revoke-security-group-ingress --group-id $RDS_SG --protocol tcp --port 5432 --cidr 192.168.0.0/16 > /dev/null
aws ec2 revoke-security-group-ingress --group-id $NODE_GROUP_SG --protocol tcp --port 53 --source-group $POD_SG > /dev/null
aws ec2 revoke-security-group-ingress --group-id $NODE_GROUP_SG --protocol udp --port 53 --source-group $POD_SG > /dev/null
aws ec2 delete-security-group --group-id $POD_SG --output json
aws ec2 delete-security-group --group-id $RDS_SG > /dev/null
aws ec2 describe-security-groups --filters Name=vpc-id,Values=$VPC_ID --query 'SecurityGroups[].GroupName' --output text`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /An error occurred \(DependencyViolation\) when calling the DeleteSecurityGroup operation: resource sg-[0-9a-f]{17} has a dependent object/,
    );
    expect(lines[1]).toMatch(/^sg-[0-9a-f]{17}$/);
    expect(JSON.parse(lines.slice(2, -1).join('\n'))).toEqual({
      Return: true,
      GroupId: lines[1],
    });
    expect(lines.at(-1)?.split(/\s+/).sort()).toEqual([
      'default',
      expect.stringMatching(/^eks-cluster-sg-eksworkshop-eksctl-\d+$/),
    ]);
  });

  it.skipIf(!isRoot)('refuses to enforce without root, with a clear message (exit 2)', () => {
    const result = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        cliPath,
        'cloud',
        '--home',
        `${home}/nobody`,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/enforcing security groups needs root .* --no-dataplane/);
  });
});
