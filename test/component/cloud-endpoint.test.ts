/**
 * The cloud endpoint's front door with the real clients: the machine's aws CLI and
 * @aws-sdk/client-ec2. Signatures are verified (a wrong secret is refused as AWS refuses it),
 * lists and filters come back as the clients expect, errors carry AWS codes, and random bodies
 * never crash the server.
 */
import { DescribeAvailabilityZonesCommand, EC2ServiceException } from '@aws-sdk/client-ec2';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../support/cloud-fixture.js';

let cloud: TestCloud;
const region = 'us-west-2';

beforeAll(async () => {
  cloud = await startTestCloud();
});
afterAll(async () => {
  await cloud.close();
});

function aws(args: string[], secret?: string) {
  return cloud.aws(['--output', 'json', ...args], secret ? { secret } : {});
}

function sdk(secret?: string) {
  return cloud.ec2(secret ? { secret } : {});
}

describe('the cloud endpoint with the aws CLI', () => {
  it('lists availability zones', async () => {
    const result = await aws(['ec2', 'describe-availability-zones']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const zones = (
      JSON.parse(result.stdout) as { AvailabilityZones: { ZoneName: string; State: string }[] }
    ).AvailabilityZones;
    expect(zones.map((zone) => zone.ZoneName)).toEqual([
      'us-west-2a',
      'us-west-2b',
      'us-west-2c',
      'us-west-2d',
    ]);
    expect(zones[0]?.State).toBe('available');
  });

  it('applies filters with wildcards and zone names', async () => {
    const filtered = await aws([
      'ec2',
      'describe-availability-zones',
      '--filters',
      'Name=zone-name,Values=*-2b,*-2c',
      '--query',
      'AvailabilityZones[].ZoneName',
      '--output',
      'text',
    ]);
    expect(filtered.stdout.trim().split(/\s+/)).toEqual(['us-west-2b', 'us-west-2c']);
    const none = await aws([
      'ec2',
      'describe-availability-zones',
      '--filters',
      'Name=state,Values=impaired',
    ]);
    expect(JSON.parse(none.stdout)).toEqual({ AvailabilityZones: [] });
  });

  it('prints AWS errors for bad input and a bad signature', async () => {
    const zone = await aws(['ec2', 'describe-availability-zones', '--zone-names', 'us-west-2z']);
    expect(zone.code).toBe(255);
    expect(zone.stderr).toMatch(
      /An error occurred \(InvalidParameterValue\) when calling the DescribeAvailabilityZones operation: Invalid availability zone: \[us-west-2z\]/,
    );
    const filter = await aws([
      'ec2',
      'describe-availability-zones',
      '--filters',
      'Name=bogus,Values=x',
    ]);
    expect(filter.stderr).toMatch(/\(InvalidParameterValue\).*The filter 'bogus' is invalid/);
    const signed = await aws(['ec2', 'describe-availability-zones'], 'wrong-secret');
    expect(signed.code).toBe(255);
    expect(signed.stderr).toMatch(/An error occurred \(SignatureDoesNotMatch\)/);
  });
});

describe('the cloud endpoint with the AWS SDK v3', () => {
  it('lists availability zones', async () => {
    const result = await sdk().send(
      new DescribeAvailabilityZonesCommand({ ZoneNames: ['us-west-2a'] }),
    );
    expect(result.AvailabilityZones).toEqual([
      expect.objectContaining({
        ZoneName: 'us-west-2a',
        ZoneId: 'usw2-az1',
        RegionName: region,
        State: 'available',
        Messages: [],
      }),
    ]);
  });

  it('raises typed exceptions with AWS codes', async () => {
    const error = await sdk('wrong')
      .send(new DescribeAvailabilityZonesCommand({}))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EC2ServiceException);
    expect((error as EC2ServiceException).name).toBe('SignatureDoesNotMatch');
    expect((error as EC2ServiceException).$metadata.httpStatusCode).toBe(403);
    const bad = await sdk()
      .send(new DescribeAvailabilityZonesCommand({ ZoneNames: ['nowhere'] }))
      .catch((e: unknown) => e);
    expect((bad as EC2ServiceException).name).toBe('InvalidParameterValue');
  });
});

describe('the cloud endpoint on malformed requests', () => {
  it('answers unsigned, unknown and garbage requests with AWS-shaped errors, and keeps serving', async () => {
    const unsigned = await fetch(cloud.endpoint.url, {
      method: 'POST',
      body: 'Action=DescribeVpcs&Version=2016-11-15',
    });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.text()).toMatch(/<Code>MissingAuthenticationToken<\/Code>/);
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 300 }),
        fc.constantFrom('POST', 'GET', 'PUT'),
        fc.string({ maxLength: 80 }),
        async (body, method, auth) => {
          const response = await fetch(cloud.endpoint.url, {
            method,
            headers: {
              authorization: auth.replace(/[^\x20-\x7e]/g, ''),
              'x-amz-date': '20261126T000000Z',
            },
            ...(method === 'GET' ? {} : { body }),
          });
          expect(response.status).toBeGreaterThanOrEqual(400);
          expect(response.status).toBeLessThan(500);
          expect(await response.text()).toMatch(
            /^<\?xml[^]*<Response><Errors><Error><Code>\w+(\.\w+)?<\/Code>/,
          );
        },
      ),
      { numRuns: 150 },
    );
    const still = await sdk().send(new DescribeAvailabilityZonesCommand({}));
    expect(still.AvailabilityZones).toHaveLength(4);
  });
});
