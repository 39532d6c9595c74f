import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { Ec2RequestError } from '../../../core/errors.js';
import { ec2ErrorXml, ec2ResponseXml } from './ec2-xml.js';
import { filterMatches, QueryParams } from './query-params.js';
import { verifySignature } from './sigv4.js';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

async function signedRequest(body: string) {
  const signer = new SignatureV4({
    credentials,
    region: 'us-west-2',
    service: 'ec2',
    sha256: Hash.bind(null, 'sha256'),
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 4566,
    path: '/',
    headers: { host: '127.0.0.1:4566', 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const headers = Object.fromEntries(
    Object.entries(signed.headers).map(([key, value]) => [key.toLowerCase(), value]),
  );
  return { method: 'POST', url: '/', headers, body: Buffer.from(body) };
}

describe('SigV4 verification', () => {
  it('accepts what the SDK signer signs, and returns the scope', async () => {
    const request = await signedRequest('Action=DescribeVpcs&Version=2016-11-15');
    expect(verifySignature(request, credentials)).toMatchObject({
      region: 'us-west-2',
      service: 'ec2',
      accessKeyId: 'AKIDEXAMPLE',
    });
  });

  it.each([
    [
      'a changed body',
      (r: Awaited<ReturnType<typeof signedRequest>>) => ({
        ...r,
        body: Buffer.from('Action=DeleteVpc'),
      }),
      'SignatureDoesNotMatch',
    ],
    [
      'a changed signed header',
      (r: Awaited<ReturnType<typeof signedRequest>>) => ({
        ...r,
        headers: { ...r.headers, host: 'evil:1' },
      }),
      'SignatureDoesNotMatch',
    ],
    [
      'another access key',
      (r: Awaited<ReturnType<typeof signedRequest>>) => ({
        ...r,
        headers: {
          ...r.headers,
          authorization: String(r.headers.authorization).replace('AKIDEXAMPLE', 'AKIDOTHER'),
        },
      }),
      'AuthFailure',
    ],
    [
      'no authorization',
      (r: Awaited<ReturnType<typeof signedRequest>>) => ({
        ...r,
        headers: { ...r.headers, authorization: undefined },
      }),
      'MissingAuthenticationToken',
    ],
    [
      'a garbled authorization',
      (r: Awaited<ReturnType<typeof signedRequest>>) => ({
        ...r,
        headers: { ...r.headers, authorization: 'AWS4-HMAC-SHA256 nonsense' },
      }),
      'IncompleteSignature',
    ],
  ])('refuses %s', async (_name, tamper, code) => {
    const request = tamper(await signedRequest('Action=DescribeVpcs&Version=2016-11-15'));
    try {
      verifySignature(request, credentials);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(Ec2RequestError);
      expect((error as Ec2RequestError).awsCode).toBe(code);
    }
  });
});

describe('query parameters', () => {
  const params = new QueryParams(
    'Action=CreateSecurityGroup&GroupDescription=POD+SG&GroupName=POD%20SG&ZoneName.1=a&ZoneName.2=b&ZoneName.4=d&Filter.1.Name=tag%3AName&Filter.1.Value.1=eks-*&MaxResults=5',
  );

  it('decodes + and %20 as spaces, lists up to the first gap, filters', () => {
    expect(params.get('GroupDescription')).toBe('POD SG');
    expect(params.get('GroupName')).toBe('POD SG');
    expect(params.list('ZoneName')).toEqual(['a', 'b']);
    expect(params.filters()).toEqual([{ name: 'tag:Name', values: ['eks-*'] }]);
    expect(params.integer('MaxResults')).toBe(5);
    expect(() => new QueryParams('MaxResults=x').integer('MaxResults')).toThrow(Ec2RequestError);
  });

  it('matches filter values with * and ? wildcards, literally otherwise', () => {
    const filter = { name: 'tag:Name', values: ['eks-cluster-sg-*', 'a?c', 'x.y'] };
    expect(filterMatches(filter, 'eks-cluster-sg-demo-123')).toBe(true);
    expect(filterMatches(filter, 'abc')).toBe(true);
    expect(filterMatches(filter, 'xzy')).toBe(false);
    expect(filterMatches(filter, undefined)).toBe(false);
    expect(filterMatches(filter, 'x.y')).toBe(true);
    expect(filterMatches(filter, 'xzy')).toBe(false);
  });

  it('takes a backslash-escaped *, ? or \\ literally, as EC2 does', () => {
    const filter = { name: 'description', values: ['\\*amazon\\?\\\\'] };
    expect(filterMatches(filter, '*amazon?\\')).toBe(true);
    expect(filterMatches(filter, 'xamazonx\\')).toBe(false);
  });
});

describe('EC2 XML', () => {
  it('renders lists as <item>, booleans lowercase, empty lists as elements, and escapes text', () => {
    const xml = ec2ResponseXml('DescribeThings', 'req-1', {
      thingSet: [{ name: 'a<b', enabled: true }],
      emptySet: [],
      gone: undefined,
    });
    expect(xml).toContain(
      '<DescribeThingsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId>',
    );
    expect(xml).toContain(
      '<thingSet><item><name>a&lt;b</name><enabled>true</enabled></item></thingSet>',
    );
    expect(xml).toContain('<emptySet></emptySet>');
    expect(xml).not.toContain('gone');
  });

  it('renders errors in the EC2 envelope', () => {
    expect(
      ec2ErrorXml('InvalidGroup.NotFound', "The security group 'sg-1' does not exist", 'r'),
    ).toContain(
      '<Response><Errors><Error><Code>InvalidGroup.NotFound</Code><Message>The security group &apos;sg-1&apos; does not exist</Message></Error></Errors><RequestID>r</RequestID></Response>',
    );
  });
});
