/**
 * The local cloud's one HTTP port. Every request is authenticated (SigV4 against the home's
 * credentials), routed by the signature's service scope (or `Version`), and answered as AWS
 * answers: XML documents for the query protocols, AWS error codes with non-2xx statuses. A
 * malformed request gets an error, never a crash.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsServiceError, Ec2RequestError } from '../../core/errors.js';
import { ec2ErrorXml, ec2ResponseXml, type XmlValue } from './query/ec2-xml.js';
import { QueryParams } from './query/query-params.js';
import { queryErrorXml, queryResponseXml, type QueryValue } from './query/query-xml.js';
import { verifySignature, type Credentials } from './query/sigv4.js';
import { readLimitedBody } from '../../adapters/http/read-body.js';

/** Serves one EC2 action; throws `Ec2RequestError` for an AWS error. */
export type Ec2Dispatcher = (
  action: string,
  params: QueryParams,
) => Promise<Record<string, XmlValue>>;

/** Serves one action of a query-protocol service (RDS, IAM); undefined: no `<XResult>`. */
export type QueryDispatcher = (
  action: string,
  params: QueryParams,
) => Promise<Record<string, QueryValue> | undefined>;

export interface RestRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: string;
}

/** Serves one rest-json request (EKS); throws `AwsServiceError` for an AWS error. */
export type RestDispatcher = (request: RestRequest) => Promise<{ status: number; body: unknown }>;

export interface CloudEndpointOptions {
  readonly credentials: Credentials;
  readonly ec2: Ec2Dispatcher;
  readonly rds?: QueryDispatcher;
  readonly iam?: QueryDispatcher;
  readonly eks?: RestDispatcher;
  /** 0 (default) picks a free port. Always bound to loopback. */
  readonly port?: number;
  /**
   * Also serve on this unix socket (replacing a stale one): the control plane's endpoint in the
   * VPC relays to it, so the host namespace needs no address there.
   */
  readonly socketPath?: string;
  /** Errors that are not AWS errors (bugs) are reported here and answered as InternalError. */
  readonly onInternalError?: (error: unknown) => void;
  /** Told of every API request served: its service and `ok` or the AWS error code. */
  readonly onRequest?: (service: string, code: string) => void;
  /** The Prometheus exposition served at `GET /metrics`. */
  readonly metrics?: () => Promise<{ contentType: string; text: string }>;
}

export interface CloudEndpoint {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const maxBodyBytes = 1 << 20;

type Service = 'ec2' | 'rds' | 'iam' | 'eks';

/** API versions of the query services, for requests whose signature scope says nothing. */
const versions: Readonly<Record<string, Service>> = {
  '2016-11-15': 'ec2',
  '2014-10-31': 'rds',
  '2010-05-08': 'iam',
};

const queryNamespaces = {
  rds: 'http://rds.amazonaws.com/doc/2014-10-31/',
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
} as const;

/** The service named by the signature scope (read before verifying, to word errors as it does). */
function claimedService(request: IncomingMessage): Service | undefined {
  const authorization = request.headers.authorization ?? '';
  const service = /Credential=[^/]+\/\d+\/[^/]+\/([a-z0-9-]+)\/aws4_request/.exec(
    authorization,
  )?.[1];
  return service === 'ec2' || service === 'rds' || service === 'iam' || service === 'eks'
    ? service
    : undefined;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return readLimitedBody(
    request,
    maxBodyBytes,
    () =>
      new Ec2RequestError(
        'RequestEntityTooLarge',
        'Request body exceeds the maximum allowed size.',
        413,
      ),
  );
}

function send(
  response: ServerResponse,
  status: number,
  body: string,
  requestId: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, {
    'Content-Type': 'text/xml;charset=UTF-8',
    'Content-Length': Buffer.byteLength(body),
    'x-amzn-RequestId': requestId,
    ...headers,
  });
  response.end(body);
}

function unserved(service: string): Ec2RequestError {
  return new Ec2RequestError(
    'InvalidAction',
    `The service '${service}' is not served by this endpoint.`,
  );
}

async function serveRest(
  restRequest: RestRequest,
  response: ServerResponse,
  options: CloudEndpointOptions,
  requestId: string,
): Promise<void> {
  if (!options.eks) throw unserved('eks');
  const answer = await options.eks(restRequest);
  send(response, answer.status, JSON.stringify(answer.body), requestId, {
    'Content-Type': 'application/json',
  });
}

async function serve(
  request: IncomingMessage,
  response: ServerResponse,
  options: CloudEndpointOptions,
  requestId: string,
): Promise<void> {
  const body = await readBody(request);
  const scope = verifySignature(
    { method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headers, body },
    options.credentials,
  );
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (scope.service === 'eks' || url.pathname.startsWith('/clusters')) {
    const restRequest = {
      method: request.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      body: body.toString('utf8'),
    };
    await serveRest(restRequest, response, options, requestId);
    return;
  }
  const params = new QueryParams(body.toString('utf8'));
  const service =
    scope.service in queryNamespaces || scope.service === 'ec2'
      ? (scope.service as Service)
      : versions[params.get('Version') ?? ''];
  const action = params.get('Action');
  if (!action) {
    throw new Ec2RequestError('MissingAction', 'The request must contain the parameter Action.');
  }
  if (service === 'ec2') {
    const output = await options.ec2(action, params);
    send(response, 200, ec2ResponseXml(action, requestId, output), requestId);
    return;
  }
  if (service !== 'rds' && service !== 'iam') throw unserved(scope.service);
  const dispatch = options[service];
  if (!dispatch) throw unserved(service);
  const result = await dispatch(action, params);
  send(
    response,
    200,
    queryResponseXml(action, queryNamespaces[service], requestId, result),
    requestId,
  );
}

/** An error as the service the caller addressed words it. */
function sendError(
  response: ServerResponse,
  service: Service | undefined,
  error: { awsCode: string; message: string; httpStatus: number },
  requestId: string,
): void {
  if (service === 'eks') {
    send(response, error.httpStatus, JSON.stringify({ message: error.message }), requestId, {
      'Content-Type': 'application/json',
      'x-amzn-ErrorType': error.awsCode,
    });
  } else if (service === 'rds' || service === 'iam') {
    const type = error.httpStatus >= 500 ? 'Receiver' : 'Sender';
    send(
      response,
      error.httpStatus,
      queryErrorXml(queryNamespaces[service], type, error.awsCode, error.message, requestId),
      requestId,
    );
  } else {
    send(
      response,
      error.httpStatus,
      ec2ErrorXml(error.awsCode, error.message, requestId),
      requestId,
    );
  }
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  options: CloudEndpointOptions,
): Promise<void> {
  const requestId = randomUUID();
  const service = claimedService(request);
  const counted = service ?? 'unknown';
  try {
    await serve(request, response, options, requestId);
    options.onRequest?.(counted, 'ok');
  } catch (error) {
    if (error instanceof Ec2RequestError || error instanceof AwsServiceError) {
      options.onRequest?.(counted, error.awsCode);
      sendError(response, service, error, requestId);
      return;
    }
    options.onRequest?.(counted, 'InternalError');
    options.onInternalError?.(error);
    sendError(
      response,
      service,
      {
        awsCode: service === 'eks' ? 'ServerException' : 'InternalError',
        message: 'An internal error has occurred.',
        httpStatus: 500,
      },
      requestId,
    );
  }
}

function newServer(options: CloudEndpointOptions): Server {
  const server = createServer((request, response) => {
    const { metrics } = options;
    if (metrics && request.method === 'GET' && request.url === '/metrics') {
      void metrics().then(
        ({ contentType, text }) => {
          response.writeHead(200, { 'Content-Type': contentType }).end(text);
        },
        (error: unknown) => {
          options.onInternalError?.(error);
          response.writeHead(500).end();
        },
      );
      return;
    }
    void handle(request, response, options);
  });
  server.keepAliveTimeout = 30_000;
  return server;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((done) => {
    server.closeAllConnections();
    server.close(() => {
      done();
    });
  });
}

function listenOn(
  server: Server,
  target: { port: number; host: string } | { path: string },
): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(target, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function startCloudEndpoint(options: CloudEndpointOptions): Promise<CloudEndpoint> {
  const server = newServer(options);
  await listenOn(server, { port: options.port ?? 0, host: '127.0.0.1' });
  const { port } = server.address() as AddressInfo;
  const servers = [server];
  if (options.socketPath !== undefined) {
    mkdirSync(dirname(options.socketPath), { recursive: true, mode: 0o755 });
    rmSync(options.socketPath, { force: true });
    const socketServer = newServer(options);
    try {
      await listenOn(socketServer, { path: options.socketPath });
    } catch (error) {
      await closeServer(server);
      throw error;
    }
    servers.push(socketServer);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
}
