/**
 * Verifies AWS Signature Version 4 on incoming requests (header form, as the aws CLI and the SDK
 * send it): rebuilds the canonical request from the signed headers, derives the signing key from
 * the home's secret, and compares signatures in constant time. The body received is always
 * hashed here (the CLI sends no `x-amz-content-sha256`; when the SDK does, it must agree).
 * A session token (`X-Amz-Security-Token`, sent with the role credentials of the instance
 * metadata service) must be one the cloud minted: see `issueSessionToken`.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AwsAuthError } from './aws-errors.js';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface SignedRequest {
  readonly method: string;
  /** Path and query as received (`/`, `/clusters/x?y=z`). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface SignatureScope {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
}

const authorizationPattern =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) =>
  createHmac('sha256', key).update(data).digest();

function header(request: SignedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** RFC 3986 encoding as SigV4 wants it (everything but unreserved characters). */
function encode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function canonicalQuery(query: string): string {
  if (!query) return '';
  const pairs = [...new URLSearchParams(query)].map(
    ([key, value]) => [encode(key), encode(value)] as const,
  );
  pairs.sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0));
  return pairs.map(([key, value]) => `${key}=${value}`).join('&');
}

function canonicalPath(path: string): string {
  return (
    path
      .split('/')
      .map((segment) => encode(decodeURIComponent(segment)))
      .join('/') || '/'
  );
}

/**
 * The session token of role credentials issued to an instance (by the instance metadata
 * service): an HMAC over the role session (`<role>/<instance-id>`), keyed from the home's
 * secret. It is stateless and stable, so an instance keeps its token across restarts of the
 * cloud, and the endpoint needs nothing but the home's secret to tell a minted token from any
 * other string. The credentials carry the home's own key pair, so the token grants nothing the
 * keys do not; checking it only refuses tokens the cloud never issued, as AWS does.
 */
export function issueSessionToken(secretAccessKey: string, session: string): string {
  const payload = Buffer.from(session).toString('base64url');
  return `${payload}.${sessionTokenMac(secretAccessKey, payload).toString('base64url')}`;
}

function sessionTokenMac(secretAccessKey: string, payload: string): Buffer {
  return hmac(hmac(secretAccessKey, 'sgpods-role-session-token-v1'), payload);
}

/** True when `token` came from `issueSessionToken` with this secret. */
export function isIssuedSessionToken(token: string, secretAccessKey: string): boolean {
  const [payload, mac, ...rest] = token.split('.');
  if (!payload || mac === undefined || rest.length > 0) return false;
  const expected = sessionTokenMac(secretAccessKey, payload);
  const given = Buffer.from(mac, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function authFailure(): AwsAuthError {
  return new AwsAuthError(
    'AuthFailure',
    'AWS was not able to validate the provided access credentials',
    401,
  );
}

function signatureMismatch(): AwsAuthError {
  return new AwsAuthError(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    403,
  );
}

interface Authorization extends SignatureScope {
  readonly signedHeaders: string;
  readonly signature: string;
  readonly amzDate: string;
}

function parseAuthorization(request: SignedRequest): Authorization {
  const authorization = header(request, 'authorization');
  if (!authorization) {
    throw new AwsAuthError(
      'MissingAuthenticationToken',
      'Request is missing Authentication Token',
      401,
    );
  }
  const match = authorizationPattern.exec(authorization);
  const amzDate = header(request, 'x-amz-date');
  if (!match || !amzDate) {
    throw new AwsAuthError(
      'IncompleteSignature',
      'The request signature does not conform to AWS standards.',
      400,
    );
  }
  const [
    ,
    accessKeyId = '',
    date = '',
    region = '',
    service = '',
    signedHeaders = '',
    signature = '',
  ] = match;
  return { accessKeyId, date, region, service, signedHeaders, signature, amzDate };
}

function canonicalRequestOf(request: SignedRequest, signedHeaders: string): string {
  // The body actually received is what gets hashed; a declared hash must agree with it.
  const payloadHash = sha256(request.body);
  const declared = header(request, 'x-amz-content-sha256');
  if (declared !== undefined && declared !== payloadHash) throw signatureMismatch();
  const [path = '/', query = ''] = request.url.split('?', 2);
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${(header(request, name) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  return [
    request.method,
    canonicalPath(path),
    canonicalQuery(query),
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
}

/** Checks the signature; returns its scope (service, region) or throws `AwsAuthError`. */
export function verifySignature(request: SignedRequest, credentials: Credentials): SignatureScope {
  const auth = parseAuthorization(request);
  if (auth.accessKeyId !== credentials.accessKeyId) throw authFailure();
  // Checked whether or not it is among the signed headers (the SDK and the CLI sign it).
  const sessionToken = header(request, 'x-amz-security-token');
  if (
    sessionToken !== undefined &&
    !isIssuedSessionToken(sessionToken, credentials.secretAccessKey)
  ) {
    throw authFailure();
  }
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    auth.amzDate,
    scope,
    sha256(canonicalRequestOf(request, auth.signedHeaders)),
  ].join('\n');
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, auth.date), auth.region), auth.service),
    'aws4_request',
  );
  const expected = Buffer.from(hmac(signingKey, stringToSign).toString('hex'));
  const given = Buffer.from(auth.signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    throw signatureMismatch();
  return {
    accessKeyId: auth.accessKeyId,
    date: auth.date,
    region: auth.region,
    service: auth.service,
  };
}
