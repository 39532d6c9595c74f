/**
 * A local cloud for component tests: a fresh home, the cloud service on it (dataplane off unless
 * asked; that needs root), its endpoint on loopback, and the real clients pointed at it — the
 * machine's aws CLI (run without blocking this process, which serves it) and SDK v3.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { RDSClient } from '@aws-sdk/client-rds';
import { startCloudEndpoint, type CloudEndpoint } from '../../src/servers/cloud/cloud-endpoint.js';
import { CloudService } from '../../src/servers/cloud/cloud-service.js';
import { createTestHome } from './test-home.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TestCloud {
  readonly home: string;
  readonly service: CloudService;
  readonly endpoint: CloudEndpoint;
  /** Environment a user gets from `aws-env` (plus an empty aws config). */
  readonly env: NodeJS.ProcessEnv;
  aws(args: readonly string[], options?: { secret?: string }): Promise<CliResult>;
  /** `aws … --output json`, parsed; throws with the CLI's stderr on failure. */
  awsJson<T>(args: readonly string[]): Promise<T>;
  ec2(options?: { secret?: string }): EC2Client;
  rds(): RDSClient;
  eks(): EKSClient;
  iam(): IAMClient;
  close(): Promise<void>;
}

export interface TestCloudOptions {
  readonly home?: string;
  readonly dataplane?: boolean;
}

export async function startTestCloud(options: TestCloudOptions = {}): Promise<TestCloud> {
  // A test home (owner.pid) so a killed run's leftovers are swept by the next CI run.
  const home = options.home ?? createTestHome().home;
  const service = await CloudService.open({ home, dataplane: options.dataplane ?? false });
  const endpoint = await startCloudEndpoint({
    credentials: service.credentials,
    ec2: (action, params) => service.ec2(action, params),
    rds: (action, params) => service.rds(action, params),
    iam: (action, params) => service.iam(action, params),
    eks: (request) => service.eks(request),
    onInternalError: (error) => {
      process.stderr.write(`cloud internal error: ${String(error)}\n`);
    },
  });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: service.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: service.credentials.secretAccessKey,
    AWS_REGION: service.region,
    AWS_DEFAULT_REGION: service.region,
    AWS_ENDPOINT_URL: endpoint.url,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
    NODE_NO_WARNINGS: '1',
  };
  const sdkConfig = () => ({
    endpoint: endpoint.url,
    region: service.region,
    credentials: service.credentials,
    maxAttempts: 1,
  });
  const aws = (args: readonly string[], run: { secret?: string } = {}): Promise<CliResult> =>
    new Promise((resolve) => {
      execFile(
        'aws',
        [...args],
        {
          env: run.secret ? { ...env, AWS_SECRET_ACCESS_KEY: run.secret } : env,
          timeout: 60_000,
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  return {
    home,
    service,
    endpoint,
    env,
    aws,
    async awsJson<T>(args: readonly string[]): Promise<T> {
      const result = await aws([...args, '--output', 'json']);
      if (result.code !== 0) throw new Error(`aws ${args.join(' ')}: ${result.stderr}`);
      return (result.stdout.trim() === '' ? {} : JSON.parse(result.stdout)) as T;
    },
    ec2: (run = {}) =>
      new EC2Client({
        endpoint: endpoint.url,
        region: service.region,
        credentials: {
          ...service.credentials,
          ...(run.secret ? { secretAccessKey: run.secret } : {}),
        },
        maxAttempts: 1,
      }),
    rds: () => new RDSClient(sdkConfig()),
    eks: () => new EKSClient(sdkConfig()),
    // IAM is global: its clients sign for us-east-1 whatever the home's region.
    iam: () => new IAMClient({ ...sdkConfig(), region: 'us-east-1' }),
    async close() {
      await endpoint.close();
      await service.close();
      if (!options.home) rmSync(home, { recursive: true, force: true });
    },
  };
}
