/**
 * Groups authorised through the cloud's API are enforced on real packets: two (three) hosts in
 * network namespaces behind the cloud's VPC router, rules changed with the aws CLI, and the
 * answer to each call arrives only after the kernel enforces it — so no waiting is needed.
 */
import {
  AuthorizeSecurityGroupEgressCommand,
  CreateSecurityGroupCommand,
  RevokeSecurityGroupEgressCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCidr } from '../../src/core/net/ip-address.js';
import { startTestCloud, type TestCloud } from '../support/cloud-fixture.js';
import { RouterFixture } from '../support/router-fixture.js';
import { createTestHome, isRoot, type TestHome } from '../support/test-home.js';

const denyMs = 400;
const privateSubnet = parseCidr('192.168.96.0/19')?.cidr;
const otherSubnet = parseCidr('192.168.128.0/19')?.cidr;

describe.skipIf(!isRoot)('security groups authorised through the API', () => {
  let home: TestHome;
  let cloud: TestCloud;
  let fixture: RouterFixture;
  const groups = { pod: '', rds: '', other: '' };

  beforeAll(async () => {
    home = createTestHome();
    cloud = await startTestCloud({ home: home.home, dataplane: true });
    const client = cloud.ec2();
    for (const [key, name] of [
      ['pod', 'POD_SG'],
      ['rds', 'RDS_SG'],
      ['other', 'OTHER_SG'],
    ] as const) {
      const created = await client.send(
        new CreateSecurityGroupCommand({
          GroupName: name,
          Description: name,
          VpcId: cloud.service.network.vpcId,
        }),
      );
      groups[key] = created.GroupId ?? '';
    }
    const router = cloud.service.router;
    if (!router || !privateSubnet || !otherSubnet) throw new Error('no dataplane');
    fixture = RouterFixture.adopt(home, router);
    await fixture.addHost('db', '192.168.96.10', [groups.rds], true, privateSubnet);
    await fixture.addHost('pod', '192.168.96.20', [groups.pod], true, privateSubnet);
    await fixture.addHost('other', '192.168.128.30', [groups.other], true, otherSubnet);
    await router.flush();
    await fixture.host('db').probe.request('listen', { proto: 'tcp', port: 5432, family: 4 });
  });

  afterAll(async () => {
    await fixture.stop();
    await cloud.close();
    await home.cleanup();
    expect(await home.ownedNamespaces()).toEqual([]);
  });

  async function aws(...args: string[]): Promise<void> {
    const result = await cloud.aws(['ec2', ...args]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  }

  /** RDS_SG ingress on tcp 5432 from a source group or a CIDR, as the workshop writes it. */
  function postgresRule(
    verb: 'authorize' | 'revoke',
    peer: '--source-group' | '--cidr',
    value: string,
  ): Promise<void> {
    return aws(
      `${verb}-security-group-ingress`,
      ...['--group-id', groups.rds, '--protocol', 'tcp', '--port', '5432', peer, value],
    );
  }

  it('drops until a rule is authorised, forwards as soon as the call returns, drops after revoke', async () => {
    expect(await fixture.tcp('pod', 'db', 5432, { timeoutMs: denyMs })).toBe(false);
    await postgresRule('authorize', '--source-group', groups.pod);
    expect(await fixture.tcp('pod', 'db', 5432)).toBe(true);
    expect(await fixture.tcp('other', 'db', 5432, { timeoutMs: denyMs })).toBe(false);

    await postgresRule('authorize', '--cidr', '192.168.128.0/19');
    expect(await fixture.tcp('other', 'db', 5432)).toBe(true);

    await postgresRule('revoke', '--source-group', groups.pod);
    await postgresRule('revoke', '--cidr', '192.168.128.0/19');
    expect(await fixture.tcp('pod', 'db', 5432, { timeoutMs: denyMs })).toBe(false);
    expect(await fixture.tcp('other', 'db', 5432, { timeoutMs: denyMs })).toBe(false);
  });

  it('enforces egress: without its all-traffic egress rule the pod reaches only what egress allows', async () => {
    const client = cloud.ec2();
    await postgresRule('authorize', '--source-group', groups.pod);
    await client.send(
      new RevokeSecurityGroupEgressCommand({
        GroupId: groups.pod,
        IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    expect(await fixture.tcp('pod', 'db', 5432, { timeoutMs: denyMs })).toBe(false);
    await client.send(
      new AuthorizeSecurityGroupEgressCommand({
        GroupId: groups.pod,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 5432,
            ToPort: 5432,
            UserIdGroupPairs: [{ GroupId: groups.rds }],
          },
        ],
      }),
    );
    expect(await fixture.tcp('pod', 'db', 5432)).toBe(true);
  });
});
