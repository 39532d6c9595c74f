/**
 * The controller's EC2 client: AWS SDK v3 with the default credential chain (in a pod: the
 * node's instance role through IMDS; on a real cluster: whatever identity it is given), the
 * standard retryer with 3 attempts and a 30 s request timeout as upstream, and a client-side
 * token bucket (`--user-client-qps/--user-client-burst`). Every call is counted per API
 * (upstream's `ec2_api_req_count` family) so benchmarks can report EC2 calls per pod.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { Counter, Histogram, type Registry } from 'prom-client';
import { TokenBucket } from './api-rate-limit.js';

export interface Ec2Settings {
  readonly region?: string;
  readonly qps: number;
  readonly burst: number;
}

/** The AWS error code of an SDK error (`RequestLimitExceeded`, `InvalidNetworkInterfaceID.NotFound`). */
export function awsErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const named = error as { name?: unknown; Code?: unknown; $metadata?: unknown };
  if (named.$metadata === undefined) return undefined;
  if (typeof named.Code === 'string') return named.Code;
  return typeof named.name === 'string' ? named.name : undefined;
}

interface Command {
  readonly constructor: { readonly name: string };
}

export class Ec2Gateway {
  readonly #client: EC2Client;
  readonly #bucket: TokenBucket;
  readonly #requests: Counter;
  readonly #errors: Counter;
  readonly #latency: Histogram;

  constructor(settings: Ec2Settings, registry: Registry) {
    this.#client = new EC2Client({
      ...(settings.region ? { region: settings.region } : {}),
      maxAttempts: 3,
      requestHandler: { requestTimeout: 30_000 },
    });
    this.#bucket = new TokenBucket(settings.qps, settings.burst);
    this.#requests = new Counter({
      name: 'ec2_api_req_count',
      help: 'The number of calls made to ec2',
      labelNames: ['api'],
      registers: [registry],
    });
    this.#errors = new Counter({
      name: 'ec2_api_err_count',
      help: 'The number of errors encountered while interacting with ec2',
      labelNames: ['api', 'code'],
      registers: [registry],
    });
    this.#latency = new Histogram({
      name: 'aws_nw_call_latency',
      help: 'Time taken by an EC2 call (seconds)',
      labelNames: ['api'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  }

  /** Sends one command; `api` is its action name (`CreateNetworkInterface`). */
  async send<Output>(command: Command): Promise<Output> {
    const api = command.constructor.name.replace(/Command$/, '');
    await this.#bucket.take();
    this.#requests.inc({ api });
    const stop = this.#latency.startTimer({ api });
    try {
      return (await this.#client.send(command as never)) as Output;
    } catch (error) {
      this.#errors.inc({ api, code: awsErrorCode(error) ?? 'unknown' });
      throw error;
    } finally {
      stop();
    }
  }

  destroy(): void {
    this.#client.destroy();
  }
}
