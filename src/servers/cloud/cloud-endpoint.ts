/**
 * The local cloud's one HTTP port. Every request is authenticated (SigV4 against the home's
 * credentials), routed by the signature's service scope (or `Version`), and answered as AWS
 * answers: XML documents for the query protocols, AWS error codes with non-2xx statuses. A
 * malformed request gets an error, never a crash.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ec2RequestError } from '../../core/errors.js';
import { ec2ErrorXml, ec2ResponseXml, type XmlValue } from './query/ec2-xml.js';
import { QueryParams } from './query/query-params.js';
import { verifySignature, type Credentials } from './query/sigv4.js';

/** Serves one EC2 action; throws `Ec2RequestError` for an AWS error. */
export type Ec2Dispatcher = (
  action: string,
  params: QueryParams,
) => Promise<Record<string, XmlValue>>;

export interface CloudEndpointOptions {
  readonly credentials: Credentials;
  readonly ec2: Ec2Dispatcher;
  /** 0 (default) picks a free port. Always bound to loopback. */
  readonly port?: number;
  /** Errors that are not AWS errors (bugs) are reported here and answered as InternalError. */
  readonly onInternalError?: (error: unknown) => void;
}

export interface CloudEndpoint {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const maxBodyBytes = 1 << 20;
const ec2Version = '2016-11-15';

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        reject(
          new Ec2RequestError(
            'RequestEntityTooLarge',
            'Request body exceeds the maximum allowed size.',
            413,
          ),
        );
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    request.on('error', reject);
  });
}

function send(response: ServerResponse, status: number, xml: string, requestId: string): void {
  response.writeHead(status, {
    'Content-Type': 'text/xml;charset=UTF-8',
    'Content-Length': Buffer.byteLength(xml),
    'x-amzn-RequestId': requestId,
  });
  response.end(xml);
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  options: CloudEndpointOptions,
): Promise<void> {
  const requestId = randomUUID();
  try {
    const body = await readBody(request);
    const scope = verifySignature(
      { method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headers, body },
      options.credentials,
    );
    const params = new QueryParams(body.toString('utf8'));
    const isEc2 = scope.service === 'ec2' || params.get('Version') === ec2Version;
    const action = params.get('Action');
    if (!isEc2) {
      throw new Ec2RequestError(
        'InvalidAction',
        `The service '${scope.service}' is not served by this endpoint.`,
      );
    }
    if (!action)
      throw new Ec2RequestError('MissingAction', 'The request must contain the parameter Action.');
    const output = await options.ec2(action, params);
    send(response, 200, ec2ResponseXml(action, requestId, output), requestId);
  } catch (error) {
    if (error instanceof Ec2RequestError) {
      send(
        response,
        error.httpStatus,
        ec2ErrorXml(error.awsCode, error.message, requestId),
        requestId,
      );
      return;
    }
    options.onInternalError?.(error);
    send(
      response,
      500,
      ec2ErrorXml('InternalError', 'An internal error has occurred.', requestId),
      requestId,
    );
  }
}

export function startCloudEndpoint(options: CloudEndpointOptions): Promise<CloudEndpoint> {
  const server = createServer((request, response) => {
    void handle(request, response, options);
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => {
              done();
            });
          }),
      });
    });
  });
}
