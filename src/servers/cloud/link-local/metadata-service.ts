/**
 * The EC2 instance metadata service (IMDS) of one VPC, served over HTTP from the VPC router's
 * namespace at 169.254.169.254. As on EC2, the caller is identified by its source address alone,
 * so every instance sees its own tree and nothing else. IMDSv2 session tokens are stateless (an
 * HMAC over instance id and expiry) so the service keeps no sessions and survives restarts with
 * the same secret; requests without a token are answered as IMDSv1 (HttpTokens=optional). An
 * instance with a profile gets its role's credentials, as the SDKs' and the CLI's default
 * credential chains look for them.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { issueSessionToken } from '../query/sigv4.js';
import type { InstanceMetadata, InterfaceMetadata, VpcDirectory } from './vpc-directory.js';

export interface MetadataServiceOptions {
  readonly directory: VpcDirectory;
  readonly host: string;
  readonly port: number;
  /** Signs IMDSv2 tokens; tokens stay valid across restarts that keep the secret. */
  readonly tokenSecret: Buffer;
  /** Milliseconds since the epoch (defaults to `Date.now`). */
  readonly now?: () => number;
  /** Bugs (a throw while answering) are reported here and answered 500. */
  readonly onError?: (error: unknown) => void;
}

export interface MetadataService {
  readonly port: number;
  close(): Promise<void>;
}

/** What `answerMetadataRequest` needs of an HTTP request. */
export interface MetadataRequest {
  readonly method: string;
  /** The request target as received (`/latest/meta-data/?x`). */
  readonly url: string;
  /** The TCP peer address, possibly IPv4-mapped (`::ffff:10.0.0.5`). */
  readonly sourceAddress: string | undefined;
  /** Header names in lower case, as node:http gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface MetadataResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface MetadataContext {
  readonly directory: VpcDirectory;
  readonly tokenSecret: Buffer;
  readonly now: () => number;
}

type MetadataNode = string | MetadataDirectory;
interface MetadataDirectory {
  readonly [name: string]: MetadataNode;
}

const tokenPath = '/latest/api/token';
const maxTokenTtlSeconds = 21_600;

/** The versions EC2 lists at `/`; each serves the same tree as `latest`. */
const versions = [
  '1.0',
  '2007-01-19',
  '2007-03-01',
  '2007-08-29',
  '2007-10-10',
  '2007-12-15',
  '2008-02-01',
  '2008-09-01',
  '2009-04-04',
  '2011-01-01',
  '2011-05-01',
  '2012-01-12',
  '2014-02-25',
  '2014-11-05',
  '2015-10-20',
  '2016-04-19',
  '2016-06-30',
  '2016-09-02',
  '2018-03-28',
  '2018-08-17',
  '2018-09-24',
  '2019-10-01',
  '2020-10-27',
  '2021-01-03',
  '2021-03-23',
  '2021-07-15',
  '2022-09-24',
  'latest',
];

const reasons: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  500: 'Internal Server Error',
};

/** EC2's own error page, which some clients match on. */
function errorResponse(status: number, allow?: string): MetadataResponse {
  const title = `${status} - ${reasons[status] ?? 'Error'}`;
  const body = [
    '<?xml version="1.0" encoding="iso-8859-1"?>',
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"',
    '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">',
    ' <head>',
    `  <title>${title}</title>`,
    ' </head>',
    ' <body>',
    `  <h1>${title}</h1>`,
    ' </body>',
    '</html>',
    '',
  ].join('\n');
  const headers: Record<string, string> = { 'Content-Type': 'text/html' };
  if (allow !== undefined) headers.Allow = allow;
  return { status, headers, body };
}

function textResponse(body: string, extraHeaders: Readonly<Record<string, string>> = {}) {
  return { status: 200, headers: { 'Content-Type': 'text/plain', ...extraHeaders }, body };
}

export function issueToken(instanceId: string, expiresAtMs: number, secret: Buffer): string {
  const payload = Buffer.from(`${instanceId}:${expiresAtMs}`).toString('base64url');
  return `${payload}.${createHmac('sha256', secret).update(payload).digest('base64url')}`;
}

/** The token's instance and expiry when its signature holds; undefined for anything else. */
export function verifyToken(
  token: string,
  secret: Buffer,
): { instanceId: string; expiresAtMs: number } | undefined {
  const [payload, signature, ...rest] = token.split('.');
  if (payload === undefined || signature === undefined || rest.length > 0) return undefined;
  const expected = createHmac('sha256', secret).update(payload).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const decoded = Buffer.from(payload, 'base64url').toString();
  const separator = decoded.lastIndexOf(':');
  const expiresAtMs = Number(decoded.slice(separator + 1));
  if (separator < 1 || !Number.isSafeInteger(expiresAtMs)) return undefined;
  return { instanceId: decoded.slice(0, separator), expiresAtMs };
}

function singleHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

function putToken(
  request: MetadataRequest,
  instance: InstanceMetadata,
  context: MetadataContext,
): MetadataResponse {
  // EC2 refuses token requests that went through a proxy, so a token cannot leave the instance.
  if (request.headers['x-forwarded-for'] !== undefined) return errorResponse(403);
  const ttlText = singleHeader(request.headers['x-aws-ec2-metadata-token-ttl-seconds']) ?? '';
  const ttl = /^\d{1,6}$/.test(ttlText) ? Number(ttlText) : 0;
  if (ttl < 1 || ttl > maxTokenTtlSeconds) return errorResponse(400);
  const token = issueToken(instance.instanceId, context.now() + ttl * 1000, context.tokenSecret);
  return textResponse(token, { 'X-Aws-Ec2-Metadata-Token-Ttl-Seconds': String(ttl) });
}

/** Seconds the token has left, or undefined when it does not admit this instance now. */
function tokenSecondsLeft(
  header: string | string[],
  instance: InstanceMetadata,
  context: MetadataContext,
): number | undefined {
  const token = singleHeader(header);
  const claims = token === undefined ? undefined : verifyToken(token, context.tokenSecret);
  if (claims?.instanceId !== instance.instanceId) return undefined;
  const leftMs = claims.expiresAtMs - context.now();
  return leftMs > 0 ? Math.ceil(leftMs / 1000) : undefined;
}

/** EC2 prints its JSON documents with ` : ` between key and value. */
function awsJson(fields: Readonly<Record<string, string | null>>): string {
  const lines = Object.entries(fields).map(
    ([key, value]) => `  ${JSON.stringify(key)} : ${JSON.stringify(value)}`,
  );
  return `{\n${lines.join(',\n')}\n}`;
}

/** EC2 shows times to the second (`2024-01-02T03:04:05Z`). */
function awsTime(iso: string): string {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? iso : new Date(time).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function identityDocument(instance: InstanceMetadata): string {
  return awsJson({
    accountId: instance.accountId,
    architecture: 'x86_64',
    availabilityZone: instance.availabilityZone,
    billingProducts: null,
    devpayProductCodes: null,
    marketplaceProductCodes: null,
    imageId: instance.imageId,
    instanceId: instance.instanceId,
    instanceType: instance.instanceType,
    kernelId: null,
    pendingTime: awsTime(instance.launchTime),
    privateIp: instance.privateIp,
    ramdiskId: null,
    region: instance.region,
    version: '2017-09-30',
  });
}

const hourMs = 3_600_000;
/** EC2 hands out credentials valid for about six hours and renews them well before. */
const credentialsLifetimeMs = 6 * hourMs;

/**
 * `info`, and `security-credentials/<role>` with the role's credentials as EC2 prints them (the
 * role and keys come from the directory: see `StateDirectory`). The session token is minted per
 * instance and role (`issueSessionToken`, keyed from the home's secret, which the cloud
 * endpoint checks), so it never changes; the credentials "renew" on the hour: `LastUpdated` is
 * the current hour and `Expiration` six hours after it, so clients always see 5–6 hours left
 * and refresh to the same keys. An unknown role name answers 404, as on EC2.
 */
function iamTree(instance: InstanceMetadata, now: number): MetadataDirectory {
  if (instance.iamInstanceProfileArn === undefined) return {};
  const info = awsJson({
    Code: 'Success',
    LastUpdated: awsTime(instance.launchTime),
    InstanceProfileArn: instance.iamInstanceProfileArn,
    InstanceProfileId: instance.iamInstanceProfileId ?? null,
  });
  const role = instance.iamRole;
  if (role === undefined) return { iam: { info } };
  const renewedAt = Math.floor(now / hourMs) * hourMs;
  const credentials = awsJson({
    Code: 'Success',
    LastUpdated: awsTime(new Date(renewedAt).toISOString()),
    Type: 'AWS-HMAC',
    AccessKeyId: role.accessKeyId,
    SecretAccessKey: role.secretAccessKey,
    Token: issueSessionToken(role.secretAccessKey, `${role.roleName}/${instance.instanceId}`),
    Expiration: awsTime(new Date(renewedAt + credentialsLifetimeMs).toISOString()),
  });
  return { iam: { info, 'security-credentials': { [role.roleName]: credentials } } };
}

function interfaceTree(nic: InterfaceMetadata): MetadataDirectory {
  const firstVpcCidr = nic.vpcIpv4CidrBlocks[0];
  return {
    'device-number': String(nic.deviceNumber),
    'interface-id': nic.interfaceId,
    ...(nic.ipv6s.length > 0 ? { ipv6s: nic.ipv6s.join('\n') } : {}),
    'local-hostname': nic.localHostname,
    'local-ipv4s': nic.localIpv4s.join('\n'),
    mac: nic.mac,
    'network-card-index': String(nic.networkCardIndex),
    'owner-id': nic.ownerId,
    'security-group-ids': nic.securityGroupIds.join('\n'),
    'security-groups': nic.securityGroupNames.join('\n'),
    'subnet-id': nic.subnetId,
    'subnet-ipv4-cidr-block': nic.subnetIpv4CidrBlock,
    'vpc-id': nic.vpcId,
    ...(firstVpcCidr !== undefined ? { 'vpc-ipv4-cidr-block': firstVpcCidr } : {}),
    'vpc-ipv4-cidr-blocks': nic.vpcIpv4CidrBlocks.join('\n'),
  };
}

/** One instance's whole tree below a version; rebuilt per request since it is small. */
function versionTree(instance: InstanceMetadata, now: number): MetadataDirectory {
  const primary = instance.interfaces.find((nic) => nic.deviceNumber === 0);
  const macs = Object.fromEntries(instance.interfaces.map((nic) => [nic.mac, interfaceTree(nic)]));
  return {
    dynamic: { 'instance-identity': { document: identityDocument(instance) } },
    'meta-data': {
      'ami-id': instance.imageId,
      'ami-launch-index': String(instance.amiLaunchIndex),
      'ami-manifest-path': '(unknown)',
      hostname: instance.privateDnsName,
      ...iamTree(instance, now),
      'instance-action': 'none',
      'instance-id': instance.instanceId,
      'instance-life-cycle': 'on-demand',
      'instance-type': instance.instanceType,
      'local-hostname': instance.privateDnsName,
      'local-ipv4': instance.privateIp,
      ...(primary !== undefined ? { mac: primary.mac } : {}),
      network: { interfaces: { macs } },
      placement: {
        'availability-zone': instance.availabilityZone,
        'availability-zone-id': instance.availabilityZoneId,
        region: instance.region,
      },
      'public-hostname': instance.privateDnsName,
      // The sandbox has no public addresses; clients that insist on one get the private one.
      'public-ipv4': instance.privateIp,
      'reservation-id': instance.reservationId,
      'security-groups': instance.securityGroupNames.join('\n'),
      services: { domain: 'amazonaws.com', partition: 'aws' },
    },
  };
}

/** Path segments without the query; undefined for targets that cannot name a metadata path. */
function pathSegments(path: string): string[] | undefined {
  if (!path.startsWith('/')) return undefined;
  const segments = path.slice(1).split('/');
  // A directory is listed with or without its trailing slash.
  if (segments.at(-1) === '') segments.pop();
  return segments.includes('') ? undefined : segments;
}

function lookup(instance: InstanceMetadata, path: string, now: number): string | undefined {
  const segments = pathSegments(path);
  if (segments === undefined) return undefined;
  const [version, ...rest] = segments;
  if (version === undefined) return versions.join('\n');
  if (!versions.includes(version)) return undefined;
  let node: MetadataNode = versionTree(instance, now);
  for (const name of rest) {
    if (typeof node === 'string' || !Object.hasOwn(node, name)) return undefined;
    node = node[name] as MetadataNode;
  }
  if (typeof node === 'string') return node;
  const listed = node;
  const names = Object.keys(listed);
  // EC2 lists the version level (`dynamic`, `meta-data`) without slashes, deeper levels with.
  if (rest.length === 0) return names.join('\n');
  return names.map((name) => (typeof listed[name] === 'string' ? name : `${name}/`)).join('\n');
}

/** The answer to one request; pure apart from the directory and the clock in `context`. */
export function answerMetadataRequest(
  request: MetadataRequest,
  context: MetadataContext,
): MetadataResponse {
  const source = request.sourceAddress?.replace(/^::ffff:/i, '');
  const instance = source === undefined ? undefined : context.directory.instanceByAddress(source);
  if (instance === undefined) return errorResponse(404);
  const path = request.url.split(/[?#]/, 1)[0] ?? '';
  if (path === tokenPath) {
    return request.method === 'PUT'
      ? putToken(request, instance, context)
      : errorResponse(405, 'PUT');
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') return errorResponse(405, 'GET, HEAD');
  const tokenHeader = request.headers['x-aws-ec2-metadata-token'];
  let extraHeaders: Record<string, string> = {};
  if (tokenHeader !== undefined) {
    const secondsLeft = tokenSecondsLeft(tokenHeader, instance, context);
    if (secondsLeft === undefined) return errorResponse(401);
    extraHeaders = { 'X-Aws-Ec2-Metadata-Token-Ttl-Seconds': String(secondsLeft) };
  }
  const body = lookup(instance, path, context.now());
  return body === undefined ? errorResponse(404) : textResponse(body, extraHeaders);
}

function send(response: ServerResponse, answer: MetadataResponse): void {
  response.writeHead(answer.status, {
    ...answer.headers,
    Server: 'EC2ws',
    'Content-Length': Buffer.byteLength(answer.body),
  });
  // node:http leaves the body out of HEAD answers and keeps the Content-Length.
  response.end(answer.body);
}

export async function startMetadataService(
  options: MetadataServiceOptions,
): Promise<MetadataService> {
  const context: MetadataContext = {
    directory: options.directory,
    tokenSecret: options.tokenSecret,
    now: options.now ?? Date.now,
  };
  const server = createServer((request, response) => {
    try {
      const answer = answerMetadataRequest(
        {
          method: request.method ?? '',
          url: request.url ?? '',
          sourceAddress: request.socket.remoteAddress,
          headers: request.headers,
        },
        context,
      );
      send(response, answer);
    } catch (error) {
      options.onError?.(error);
      if (response.headersSent) response.destroy();
      else send(response, errorResponse(500));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => options.onError?.(error));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
        // Idle keep-alive connections would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}
