/**
 * Fuzz: correctly signed requests with random and malformed query bodies, aimed at every EC2
 * action the cloud serves. The server never answers 5xx (a crash or an unhandled bug), always
 * answers XML — a document or EC2's error envelope — and keeps serving consistent state.
 */
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ec2Actions } from '../../src/servers/cloud/ec2/ec2-actions.js';
import { startTestCloud, type TestCloud } from '../support/cloud-fixture.js';

let cloud: TestCloud;
let signer: SignatureV4;

beforeAll(async () => {
  cloud = await startTestCloud();
  signer = new SignatureV4({
    service: 'ec2',
    region: cloud.service.region,
    credentials: cloud.service.credentials,
    sha256: Hash.bind(null, 'sha256'),
  });
});
afterAll(async () => {
  await cloud.close();
});

async function post(body: string): Promise<{ status: number; text: string }> {
  const url = new URL(cloud.endpoint.url);
  const request = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const response = await fetch(cloud.endpoint.url, {
    method: 'POST',
    headers: request.headers,
    body,
  });
  return { status: response.status, text: await response.text() };
}

const keys = [
  'GroupId',
  'GroupName',
  'GroupDescription',
  'VpcId',
  'DryRun',
  'MaxResults',
  'NextToken',
  'GroupId.1',
  'GroupName.1',
  'Filter.1.Name',
  'Filter.1.Value.1',
  'Filter.2.Name',
  'IpPermissions.1.IpProtocol',
  'IpPermissions.1.FromPort',
  'IpPermissions.1.ToPort',
  'IpPermissions.1.IpRanges.1.CidrIp',
  'IpPermissions.1.Ipv6Ranges.1.CidrIpv6',
  'IpPermissions.1.Groups.1.GroupId',
  'IpPermissions.1.Groups.1.GroupName',
  'IpPermissions.1.PrefixListIds.1.PrefixListId',
  'IpPermissions.2.IpProtocol',
  'IpPermissions.1.IpRanges.1.Description',
  'CidrIp',
  'IpProtocol',
  'FromPort',
  'ToPort',
  'SourceSecurityGroupName',
  'SecurityGroupRuleId.1',
  'SecurityGroupRule.1.SecurityGroupRuleId',
  'SecurityGroupRule.1.SecurityGroupRule.IpProtocol',
  'SecurityGroupRule.1.SecurityGroupRule.CidrIpv4',
  'SecurityGroupRule.1.SecurityGroupRule.FromPort',
  'ResourceId.1',
  'Tag.1.Key',
  'Tag.1.Value',
  'TagSpecification.1.ResourceType',
  'TagSpecification.1.Tag.1.Key',
  'PrefixListName',
  'PrefixListId',
  'AddressFamily',
  'MaxEntries',
  'Entry.1.Cidr',
  'AddEntry.1.Cidr',
  'RemoveEntry.1.Cidr',
  'CurrentVersion',
  'TargetVersion',
  'ZoneName.1',
  'VpcId.1',
  'SubnetId.1',
];

function interestingValues(): string[] {
  const network = cloud.service.network;
  return [
    network.vpcId,
    network.defaultSecurityGroupId,
    network.clusterSecurityGroupId,
    network.publicSubnetIds[0] ?? '',
    'sg-0123456789abcdef0',
    'sg-',
    'sgr-0123456789abcdef0',
    'pl-0123456789abcdef0',
    'tcp',
    'udp',
    'icmp',
    '-1',
    'all',
    '58',
    '256',
    '0',
    '65535',
    '65536',
    '-2',
    '5',
    '1001',
    '1e3',
    '10.0.0.0/8',
    '10.0.0.1/8',
    '10.0.0.0/33',
    '::/0',
    '2001:db8::/129',
    'true',
    'false',
    'IPv4',
    'IPv6',
    'security-group',
    'security-group-rule',
    'default',
    'POD_SG',
    'vpc-id',
    'group-name',
    'tag:Name',
    'ip-permission.cidr',
    '*',
    '',
    'aws:x',
    'é\u0000<&>"',
  ];
}

describe('the cloud endpoint under fuzzing', () => {
  it('answers every random, signed body with XML and no server error', async () => {
    const actions = Object.keys(ec2Actions);
    const body = fc
      .record({
        action: fc.constantFrom(...actions, 'NoSuchAction', ''),
        params: fc.array(
          fc.tuple(
            fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 20 })),
            fc.oneof(fc.constantFrom(...interestingValues()), fc.string({ maxLength: 40 })),
          ),
          { maxLength: 8 },
        ),
      })
      .map(({ action, params }) => {
        const search = new URLSearchParams({ Action: action, Version: '2016-11-15' });
        for (const [key, value] of params) search.append(key, value);
        return search.toString();
      });
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(body, fc.string({ maxLength: 200 })), async (text) => {
        const { status, text: answer } = await post(text);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        expect(status, answer).toBeLessThan(500);
        expect(answer).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<\w+/);
        if (status >= 400) {
          expect(answer).toMatch(/<Response><Errors><Error><Code>[\w.]+<\/Code><Message>/);
        }
      }),
      { numRuns: 1500 },
    );
    // The fuzzer reaches both the handlers' success paths and their checks.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(50);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(50);
    // Still serving, with consistent state: every rule belongs to a group that exists.
    const { store } = cloud.service;
    const groups = new Set(store.groups().map((group) => group.groupId));
    for (const rule of store.rules()) expect(groups.has(rule.groupId)).toBe(true);
    const integrity = cloud.service.store.database.pragma('foreign_key_check') as unknown[];
    expect(integrity).toEqual([]);
    expect((await post('Action=DescribeVpcs&Version=2016-11-15')).status).toBe(200);
  });
});
