/**
 * The instance metadata service over a real loopback socket, with a fake directory (the real
 * one is tested against the cloud's state elsewhere). The fake maps the caller's address,
 * 127.0.0.1, to whichever instance a test puts there, so "another instance" and "no instance"
 * are the same socket seen through a different directory. Role credentials are fetched by the
 * real clients (SDK v3's default chain, the aws CLI) and used against a real cloud endpoint.
 */
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import {
  DescribeAvailabilityZonesCommand,
  EC2Client,
  EC2ServiceException,
} from '@aws-sdk/client-ec2';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startMetadataService,
  type MetadataService,
} from '../../src/servers/cloud/link-local/metadata-service.js';
import { issueSessionToken } from '../../src/servers/cloud/query/sigv4.js';
import { startTestCloud, type TestCloud } from '../support/cloud-fixture.js';
import type {
  InstanceMetadata,
  InterfaceMetadata,
  VpcDirectory,
} from '../../src/servers/cloud/link-local/vpc-directory.js';

const primaryNic: InterfaceMetadata = {
  mac: '02:00:0a:00:01:0a',
  deviceNumber: 0,
  networkCardIndex: 0,
  interfaceId: 'eni-0123456789abcdef0',
  ownerId: '123456789012',
  localIpv4s: ['10.0.1.10', '10.0.1.11'],
  ipv6s: [],
  localHostname: 'ip-10-0-1-10.us-west-2.compute.internal',
  subnetId: 'subnet-0aaa',
  subnetIpv4CidrBlock: '10.0.1.0/24',
  vpcId: 'vpc-0bbb',
  vpcIpv4CidrBlocks: ['10.0.0.0/16', '100.64.0.0/16'],
  securityGroupIds: ['sg-0111', 'sg-0222'],
  securityGroupNames: ['default', 'web'],
};

const secondaryNic: InterfaceMetadata = {
  ...primaryNic,
  mac: '02:00:0a:00:02:14',
  deviceNumber: 1,
  interfaceId: 'eni-0fedcba9876543210',
  localIpv4s: ['10.0.2.20'],
  ipv6s: ['2600:1f14::20'],
  localHostname: 'ip-10-0-2-20.us-west-2.compute.internal',
  subnetId: 'subnet-0ccc',
  subnetIpv4CidrBlock: '10.0.2.0/24',
  securityGroupIds: ['sg-0333'],
  securityGroupNames: ['pods'],
};

const instanceA: InstanceMetadata = {
  instanceId: 'i-0aaaaaaaaaaaaaaaa',
  instanceType: 'm5.large',
  imageId: 'ami-0123',
  amiLaunchIndex: 0,
  reservationId: 'r-0abc',
  accountId: '123456789012',
  region: 'us-west-2',
  availabilityZone: 'us-west-2a',
  availabilityZoneId: 'usw2-az1',
  launchTime: '2024-05-06T07:08:09.000Z',
  privateIp: '10.0.1.10',
  privateDnsName: 'ip-10-0-1-10.us-west-2.compute.internal',
  // Out of order on purpose: the primary is found by device number, not position.
  interfaces: [secondaryNic, primaryNic],
  securityGroupNames: ['default', 'web'],
  iamInstanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/nodes',
  iamInstanceProfileId: 'AIPAEXAMPLE',
  iamRole: {
    roleName: 'nodes',
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  },
  tags: { Name: 'a' },
};

const instanceB: InstanceMetadata = {
  ...instanceA,
  instanceId: 'i-0bbbbbbbbbbbbbbbb',
  iamInstanceProfileArn: undefined,
  iamInstanceProfileId: undefined,
  iamRole: undefined,
  interfaces: [primaryNic],
};

/** Who 127.0.0.1 is; tests change it. `throw` makes the directory fail as a bug would. */
let caller: InstanceMetadata | undefined | 'throw';
let clock: number;
const errors: unknown[] = [];
const directory: VpcDirectory = {
  instanceByAddress: (address) => {
    if (caller === 'throw') throw new Error('directory broke');
    return address === '127.0.0.1' ? caller : undefined;
  },
  resolveName: () => undefined,
  isAuthoritativeFor: () => false,
};

let service: MetadataService;

beforeAll(async () => {
  service = await startMetadataService({
    directory,
    host: '127.0.0.1',
    port: 0,
    tokenSecret: Buffer.from('test secret, 32 bytes of it.....'),
    now: () => clock,
    onError: (error) => errors.push(error),
  });
});
afterAll(async () => {
  await service.close();
});
beforeEach(() => {
  caller = instanceA;
  clock = Date.parse('2025-01-01T00:00:00Z');
  errors.length = 0;
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function imds(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  timeoutMs = 5_000,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: '127.0.0.1', port: service.port, method, path, headers, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString(),
          });
        });
        response.on('error', reject);
      },
    );
    outgoing.setTimeout(timeoutMs, () => {
      outgoing.destroy(new Error(`no answer to ${method} ${path} within ${timeoutMs} ms`));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

const get = (path: string, headers?: Record<string, string>) => imds('GET', path, headers);

async function token(ttl = '300'): Promise<string> {
  const reply = await imds('PUT', '/latest/api/token', {
    'X-aws-ec2-metadata-token-ttl-seconds': ttl,
  });
  expect(reply.status).toBe(200);
  expect(reply.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe(ttl);
  return reply.body;
}

describe('IMDSv1 reads', () => {
  it('serves the instance values as text', async () => {
    const values: Record<string, string> = {
      'ami-id': 'ami-0123',
      'ami-launch-index': '0',
      'ami-manifest-path': '(unknown)',
      hostname: 'ip-10-0-1-10.us-west-2.compute.internal',
      'instance-action': 'none',
      'instance-id': 'i-0aaaaaaaaaaaaaaaa',
      'instance-life-cycle': 'on-demand',
      'instance-type': 'm5.large',
      'local-hostname': 'ip-10-0-1-10.us-west-2.compute.internal',
      'local-ipv4': '10.0.1.10',
      mac: '02:00:0a:00:01:0a',
      'public-hostname': 'ip-10-0-1-10.us-west-2.compute.internal',
      'public-ipv4': '10.0.1.10',
      'reservation-id': 'r-0abc',
      'security-groups': 'default\nweb',
      'placement/availability-zone': 'us-west-2a',
      'placement/availability-zone-id': 'usw2-az1',
      'placement/region': 'us-west-2',
      'services/domain': 'amazonaws.com',
      'services/partition': 'aws',
    };
    for (const [path, value] of Object.entries(values)) {
      const reply = await get(`/latest/meta-data/${path}`);
      expect({ path, status: reply.status, body: reply.body }).toEqual({
        path,
        status: 200,
        body: value,
      });
      expect(reply.headers['content-type']).toBe('text/plain');
      expect(reply.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBeUndefined();
    }
  });

  it('answers dated versions as latest, and HEAD without a body', async () => {
    expect((await get('/2021-07-15/meta-data/instance-id')).body).toBe('i-0aaaaaaaaaaaaaaaa');
    expect((await get('/1.0/meta-data/local-ipv4')).body).toBe('10.0.1.10');
    expect((await get('/2000-01-01/meta-data/instance-id')).status).toBe(404);
    const head = await imds('HEAD', '/latest/meta-data/instance-id');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-length']).toBe(String('i-0aaaaaaaaaaaaaaaa'.length));
  });

  it('identifies the caller by its source address only', async () => {
    caller = instanceB;
    expect((await get('/latest/meta-data/instance-id')).body).toBe('i-0bbbbbbbbbbbbbbbb');
    caller = undefined;
    const unknown = await get('/latest/meta-data/instance-id');
    expect(unknown.status).toBe(404);
    expect(
      (await imds('PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': '60' }))
        .status,
    ).toBe(404);
  });
});

describe('listings', () => {
  it('lists versions, the version level, and meta-data', async () => {
    const root = (await get('/')).body.split('\n');
    expect(root).toContain('latest');
    expect(root).toContain('2021-07-15');
    expect((await get('/latest')).body).toBe('dynamic\nmeta-data');
    expect((await get('/latest/')).body).toBe('dynamic\nmeta-data');
    const listing = (await get('/latest/meta-data/')).body;
    expect(listing.split('\n')).toEqual([
      'ami-id',
      'ami-launch-index',
      'ami-manifest-path',
      'hostname',
      'iam/',
      'instance-action',
      'instance-id',
      'instance-life-cycle',
      'instance-type',
      'local-hostname',
      'local-ipv4',
      'mac',
      'network/',
      'placement/',
      'public-hostname',
      'public-ipv4',
      'reservation-id',
      'security-groups',
      'services/',
    ]);
    expect((await get('/latest/meta-data')).body).toBe(listing);
    expect((await get('/latest/meta-data/placement')).body).toBe(
      'availability-zone\navailability-zone-id\nregion',
    );
    expect((await get('/latest/meta-data/services/')).body).toBe('domain\npartition');
    expect((await get('/latest/dynamic/')).body).toBe('instance-identity/');
    expect((await get('/latest/dynamic/instance-identity/')).body).toBe('document');
  });

  it('has no iam/ without an instance profile', async () => {
    caller = instanceB;
    expect((await get('/latest/meta-data/')).body.split('\n')).not.toContain('iam/');
    expect((await get('/latest/meta-data/iam/info')).status).toBe(404);
  });

  it('serves iam/info as AWS prints it', async () => {
    expect((await get('/latest/meta-data/iam/')).body).toBe('info\nsecurity-credentials/');
    const info = await get('/latest/meta-data/iam/info');
    expect(info.body).toBe(
      [
        '{',
        '  "Code" : "Success",',
        '  "LastUpdated" : "2024-05-06T07:08:09Z",',
        '  "InstanceProfileArn" : "arn:aws:iam::123456789012:instance-profile/nodes",',
        '  "InstanceProfileId" : "AIPAEXAMPLE"',
        '}',
      ].join('\n'),
    );
  });
});

describe('role credentials', () => {
  const credentialsPath = '/latest/meta-data/iam/security-credentials/';

  it('lists the role and serves its credentials as EC2 prints them', async () => {
    clock = Date.parse('2025-01-01T03:25:07Z');
    expect((await get(credentialsPath)).body).toBe('nodes');
    expect((await get('/latest/meta-data/iam/security-credentials')).body).toBe('nodes');
    const reply = await get(`${credentialsPath}nodes`);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain');
    const token = issueSessionToken(
      'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      'nodes/i-0aaaaaaaaaaaaaaaa',
    );
    expect(reply.body).toBe(
      [
        '{',
        '  "Code" : "Success",',
        '  "LastUpdated" : "2025-01-01T03:00:00Z",',
        '  "Type" : "AWS-HMAC",',
        '  "AccessKeyId" : "AKIDEXAMPLE",',
        '  "SecretAccessKey" : "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",',
        `  "Token" : "${token}",`,
        '  "Expiration" : "2025-01-01T09:00:00Z"',
        '}',
      ].join('\n'),
    );
  });

  it('keeps one token per instance and renews on the hour', async () => {
    const read = async () =>
      JSON.parse((await get(`${credentialsPath}nodes`)).body) as Record<string, string>;
    clock = Date.parse('2025-01-01T03:00:00Z');
    const first = await read();
    clock = Date.parse('2025-01-01T03:59:59Z');
    expect(await read()).toEqual(first);
    clock = Date.parse('2025-01-01T04:00:00Z');
    const renewed = await read();
    expect(renewed).toEqual({
      ...first,
      LastUpdated: '2025-01-01T04:00:00Z',
      Expiration: '2025-01-01T10:00:00Z',
    });
    caller = { ...instanceA, instanceId: 'i-0cccccccccccccccc' };
    expect((await read()).Token).not.toBe(first.Token);
  });

  it('answers 404 for another role name and for an instance without a profile', async () => {
    for (const path of [`${credentialsPath}other`, `${credentialsPath}Nodes`]) {
      expect({ path, status: (await get(path)).status }).toEqual({ path, status: 404 });
    }
    caller = instanceB;
    expect((await get(credentialsPath)).status).toBe(404);
    expect((await get(`${credentialsPath}nodes`)).status).toBe(404);
    // A profile whose role the directory does not know: info only, nothing for SDKs to chase.
    caller = { ...instanceA, iamRole: undefined };
    expect((await get('/latest/meta-data/iam/')).body).toBe('info');
    expect((await get(credentialsPath)).status).toBe(404);
  });

  it('needs a valid token like every other path when one is sent', async () => {
    const reply = await get(`${credentialsPath}nodes`, { 'X-aws-ec2-metadata-token': 'garbage' });
    expect(reply.status).toBe(401);
  });
});

describe('role credentials with the real clients and the cloud endpoint', () => {
  let cloud: TestCloud;
  let onCloud: InstanceMetadata;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    cloud = await startTestCloud();
    onCloud = {
      ...instanceA,
      region: cloud.service.region,
      iamRole: { roleName: 'nodes', ...cloud.service.credentials },
    };
  });
  afterAll(async () => {
    await cloud.close();
  });
  beforeEach(() => {
    caller = onCloud;
    // The SDK and the CLI compare Expiration with the real clock.
    clock = Date.now();
  });
  afterEach(() => {
    process.env = { ...savedEnv };
  });

  /** What an instance's environment holds: no keys, no config, IMDS at this service. */
  function instanceEnv(): NodeJS.ProcessEnv {
    const dropped = new Set([
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_PROFILE',
      'AWS_EC2_METADATA_DISABLED',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
    ]);
    return {
      ...Object.fromEntries(Object.entries(cloud.env).filter(([name]) => !dropped.has(name))),
      AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${service.port}/`,
      AWS_CONFIG_FILE: join(cloud.home, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(cloud.home, 'no-aws-credentials'),
    };
  }

  it("resolves through SDK v3's default chain and signs EC2 calls the endpoint accepts", async () => {
    process.env = instanceEnv();
    // No credentials given: the default chain ends at the instance metadata service (IMDSv2).
    const client = new EC2Client({
      endpoint: cloud.endpoint.url,
      region: cloud.service.region,
      maxAttempts: 1,
    });
    const resolved = await client.config.credentials();
    expect(resolved).toMatchObject({
      accessKeyId: cloud.service.credentials.accessKeyId,
      secretAccessKey: cloud.service.credentials.secretAccessKey,
      sessionToken: issueSessionToken(
        cloud.service.credentials.secretAccessKey,
        `nodes/${onCloud.instanceId}`,
      ),
    });
    const hoursLeft = ((resolved.expiration?.getTime() ?? 0) - Date.now()) / 3_600_000;
    expect(hoursLeft).toBeGreaterThan(5);
    expect(hoursLeft).toBeLessThanOrEqual(6);
    const zones = await client.send(new DescribeAvailabilityZonesCommand({}));
    expect(zones.AvailabilityZones?.map((zone) => zone.ZoneName)).toContain(
      `${cloud.service.region}a`,
    );
    client.destroy();
  });

  it('refuses a session token the cloud did not mint', async () => {
    const { credentials } = cloud.service;
    for (const sessionToken of [
      'forged',
      issueSessionToken('another secret', `nodes/${onCloud.instanceId}`),
      `${issueSessionToken(credentials.secretAccessKey, 'nodes/i-0aaaaaaaaaaaaaaaa')}x`,
    ]) {
      const client = new EC2Client({
        endpoint: cloud.endpoint.url,
        region: cloud.service.region,
        credentials: { ...credentials, sessionToken },
        maxAttempts: 1,
      });
      const error = await client.send(new DescribeAvailabilityZonesCommand({})).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(EC2ServiceException);
      expect({ sessionToken, name: (error as EC2ServiceException).name }).toEqual({
        sessionToken,
        name: 'AuthFailure',
      });
      client.destroy();
    }
  });

  it('serves the aws CLI, which finds the role by itself', async () => {
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          'aws',
          ['ec2', 'describe-availability-zones', '--output', 'json'],
          { env: instanceEnv(), timeout: 60_000 },
          (error, stdout, stderr) => {
            const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
            resolve({ code, stdout, stderr });
          },
        );
      },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const zones = (JSON.parse(result.stdout) as { AvailabilityZones: { ZoneName: string }[] })
      .AvailabilityZones;
    expect(zones.map((zone) => zone.ZoneName)).toContain(`${cloud.service.region}a`);
  });
});

describe('the network interfaces tree', () => {
  const macs = '/latest/meta-data/network/interfaces/macs';

  it('lists one directory per interface', async () => {
    expect((await get('/latest/meta-data/network/')).body).toBe('interfaces/');
    expect((await get('/latest/meta-data/network/interfaces')).body).toBe('macs/');
    expect((await get(`${macs}/`)).body).toBe('02:00:0a:00:02:14/\n02:00:0a:00:01:0a/');
  });

  it('serves the primary interface', async () => {
    const listing = (await get(`${macs}/02:00:0a:00:01:0a/`)).body.split('\n');
    expect(listing).toEqual([
      'device-number',
      'interface-id',
      'local-hostname',
      'local-ipv4s',
      'mac',
      'network-card-index',
      'owner-id',
      'security-group-ids',
      'security-groups',
      'subnet-id',
      'subnet-ipv4-cidr-block',
      'vpc-id',
      'vpc-ipv4-cidr-block',
      'vpc-ipv4-cidr-blocks',
    ]);
    const values: Record<string, string> = {
      'device-number': '0',
      'interface-id': 'eni-0123456789abcdef0',
      'local-hostname': 'ip-10-0-1-10.us-west-2.compute.internal',
      'local-ipv4s': '10.0.1.10\n10.0.1.11',
      mac: '02:00:0a:00:01:0a',
      'network-card-index': '0',
      'owner-id': '123456789012',
      'security-group-ids': 'sg-0111\nsg-0222',
      'security-groups': 'default\nweb',
      'subnet-id': 'subnet-0aaa',
      'subnet-ipv4-cidr-block': '10.0.1.0/24',
      'vpc-id': 'vpc-0bbb',
      'vpc-ipv4-cidr-block': '10.0.0.0/16',
      'vpc-ipv4-cidr-blocks': '10.0.0.0/16\n100.64.0.0/16',
    };
    for (const [name, value] of Object.entries(values)) {
      expect({ name, body: (await get(`${macs}/02:00:0a:00:01:0a/${name}`)).body }).toEqual({
        name,
        body: value,
      });
    }
    expect((await get(`${macs}/02:00:0a:00:01:0a/ipv6s`)).status).toBe(404);
  });

  it('lists ipv6s only on an interface that has some', async () => {
    const secondary = `${macs}/02:00:0a:00:02:14`;
    expect((await get(secondary)).body.split('\n')).toContain('ipv6s');
    expect((await get(`${secondary}/ipv6s`)).body).toBe('2600:1f14::20');
    expect((await get(`${secondary}/device-number`)).body).toBe('1');
    expect((await get(`${macs}/02:00:00:00:00:00/`)).status).toBe(404);
  });
});

describe('the instance identity document', () => {
  it('is AWS-shaped JSON', async () => {
    const reply = await get('/latest/dynamic/instance-identity/document');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatch(/^\{\n {2}"accountId" : "123456789012",\n/);
    expect(JSON.parse(reply.body)).toEqual({
      accountId: '123456789012',
      architecture: 'x86_64',
      availabilityZone: 'us-west-2a',
      billingProducts: null,
      devpayProductCodes: null,
      marketplaceProductCodes: null,
      imageId: 'ami-0123',
      instanceId: 'i-0aaaaaaaaaaaaaaaa',
      instanceType: 'm5.large',
      kernelId: null,
      pendingTime: '2024-05-06T07:08:09Z',
      privateIp: '10.0.1.10',
      ramdiskId: null,
      region: 'us-west-2',
      version: '2017-09-30',
    });
  });
});

describe('IMDSv2 tokens', () => {
  it('issues a token that authorises reads and reports its remaining TTL', async () => {
    const issued = await token('300');
    expect(issued).toMatch(/^[\w-]+\.[\w-]+$/);
    clock += 100_000;
    const reply = await get('/latest/meta-data/instance-id', {
      'X-aws-ec2-metadata-token': issued,
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('i-0aaaaaaaaaaaaaaaa');
    expect(reply.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('200');
  });

  it('refuses a wrong token with 401', async () => {
    const issued = await token();
    const tampered = `${issued.slice(0, -2)}${issued.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const wrong of [tampered, 'garbage', '', `${issued}.x`]) {
      const reply = await get('/latest/meta-data/instance-id', {
        'X-aws-ec2-metadata-token': wrong,
      });
      expect({ wrong, status: reply.status }).toEqual({ wrong, status: 401 });
    }
    // 401 comes before 404: an unauthorised caller learns nothing about paths.
    const unknown = await get('/latest/meta-data/nope', { 'X-aws-ec2-metadata-token': 'garbage' });
    expect(unknown.status).toBe(401);
    expect(unknown.body).toContain('<title>401 - Unauthorized</title>');
  });

  it('expires tokens', async () => {
    const issued = await token('2');
    clock += 1_999;
    const last = await get('/latest/meta-data/', { 'X-aws-ec2-metadata-token': issued });
    expect(last.status).toBe(200);
    expect(last.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('1');
    clock += 1;
    const expired = await get('/latest/meta-data/', { 'X-aws-ec2-metadata-token': issued });
    expect(expired.status).toBe(401);
  });

  it("refuses another instance's token", async () => {
    const ofA = await token();
    caller = instanceB;
    const reply = await get('/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': ofA });
    expect(reply.status).toBe(401);
  });

  it('refuses proxied token requests and bad TTLs', async () => {
    const proxied = await imds('PUT', '/latest/api/token', {
      'X-aws-ec2-metadata-token-ttl-seconds': '60',
      'X-Forwarded-For': '10.9.9.9',
    });
    expect(proxied.status).toBe(403);
    for (const ttl of [undefined, '0', '21601', '-5', '1.5', 'abc', '60s', '99999999999999999']) {
      const headers: Record<string, string> =
        ttl === undefined ? {} : { 'X-aws-ec2-metadata-token-ttl-seconds': ttl };
      const reply = await imds('PUT', '/latest/api/token', headers);
      expect({ ttl, status: reply.status }).toEqual({ ttl, status: 400 });
    }
    await token('1');
    await token('21600');
  });

  it('allows only PUT on the token path and only GET and HEAD elsewhere', async () => {
    expect((await get('/latest/api/token')).status).toBe(405);
    const put = await imds('PUT', '/latest/meta-data/', {
      'X-aws-ec2-metadata-token-ttl-seconds': '60',
    });
    expect(put.status).toBe(405);
    expect((await imds('POST', '/latest/meta-data/')).status).toBe(405);
    expect((await imds('DELETE', '/latest/meta-data/instance-id')).status).toBe(405);
  });
});

describe('errors', () => {
  it('answers unknown paths with the AWS 404 page', async () => {
    for (const path of [
      '/latest/user-data',
      '/latest/meta-data/nope',
      '/latest/meta-data/instance-id/more',
      '/latest/meta-data//instance-id',
      '/latest/meta-data/constructor',
      '/latest/meta-data/__proto__',
      '/latest/meta-data/../meta-data/instance-id',
    ]) {
      const reply = await get(path);
      expect({ path, status: reply.status }).toEqual({ path, status: 404 });
      expect(reply.body).toMatch(/^<\?xml version="1\.0" encoding="iso-8859-1"\?>/);
      expect(reply.body).toContain('<title>404 - Not Found</title>');
      expect(reply.headers['content-type']).toBe('text/html');
    }
  });

  it('answers 500 when the directory throws, and keeps serving', async () => {
    caller = 'throw';
    const broken = await get('/latest/meta-data/instance-id');
    expect(broken.status).toBe(500);
    expect(broken.body).toContain('500 - Internal Server Error');
    expect(errors).toHaveLength(1);
    caller = instanceA;
    expect((await get('/latest/meta-data/instance-id')).body).toBe('i-0aaaaaaaaaaaaaaaa');
  });

  it('never answers 5xx to arbitrary paths and headers', async () => {
    const segment = fc.oneof(
      fc.constantFrom('latest', 'meta-data', 'dynamic', 'network', 'iam', '', '..', '%00'),
      fc.stringMatching(/^[A-Za-z0-9._~:%-]{0,12}$/),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(segment, { maxLength: 6 }),
        fc.constantFrom('GET', 'HEAD', 'PUT', 'POST'),
        fc.option(fc.stringMatching(/^[\x21-\x7e]{0,40}$/)),
        async (segments, method, tokenValue) => {
          const headers: Record<string, string> =
            tokenValue === null
              ? {}
              : {
                  'X-aws-ec2-metadata-token': tokenValue,
                  'X-aws-ec2-metadata-token-ttl-seconds': tokenValue,
                };
          const reply = await imds(method, `/${segments.join('/')}`, headers);
          expect(reply.status).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
    expect(errors).toEqual([]);
  });
});
