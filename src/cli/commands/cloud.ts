/**
 * `sgpods cloud`: runs the home's local cloud in the foreground. Once it serves (and its first
 * start objects exist) it writes `<home>/aws-env` for the aws CLI and the SDK; SIGTERM or SIGINT
 * stop it cleanly; a restart resumes the same state on the same port when it is free.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePidFile } from '../../adapters/process/pid-file.js';
import { InputError } from '../../core/errors.js';
import { startCloudEndpoint, type CloudEndpoint } from '../../servers/cloud/cloud-endpoint.js';
import { cloudSocketPath } from '../../adapters/process/home-sockets.js';
import { CloudService } from '../../servers/cloud/cloud-service.js';
import { CloudMetrics } from '../../servers/cloud/cloud-metrics.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { untilStopped } from '../until-stopped.js';

export interface CloudOptions {
  readonly home: string;
  readonly port?: number;
  readonly region?: string;
  readonly clusterName?: string;
  readonly dataplane: boolean;
}

function log(message: string): void {
  process.stderr.write(`cloud: ${message}\n`);
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function listen(
  service: CloudService,
  home: string,
  port: number | undefined,
): Promise<CloudEndpoint> {
  const metrics = new CloudMetrics(service);
  const start = (chosen: number) =>
    startCloudEndpoint({
      credentials: service.credentials,
      port: chosen,
      socketPath: cloudSocketPath(home),
      ec2: (action, params) => service.ec2(action, params),
      rds: (action, params) => service.rds(action, params),
      iam: (action, params) => service.iam(action, params),
      eks: (request) => service.eks(request),
      onRequest: (name, code) => {
        metrics.observeRequest(name, code);
      },
      metrics: () => metrics.exposition(),
      onInternalError: (error) => {
        log(`internal error: ${describeError(error)}`);
      },
    });
  if (port !== undefined) return start(port);
  const previous = Number(service.store.meta('port') ?? 0);
  try {
    return await start(previous);
  } catch (error) {
    if (previous === 0) throw error;
    log(`port ${previous} is taken; choosing another`);
    return start(0);
  }
}

export function awsEnvOf(service: CloudService, url: string): string {
  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  return [
    `export AWS_ACCESS_KEY_ID=${quote(service.credentials.accessKeyId)}`,
    `export AWS_SECRET_ACCESS_KEY=${quote(service.credentials.secretAccessKey)}`,
    `export AWS_REGION=${quote(service.region)}`,
    `export AWS_DEFAULT_REGION=${quote(service.region)}`,
    `export AWS_ENDPOINT_URL=${quote(url)}`,
    `export AWS_EC2_METADATA_DISABLED=true`,
    '',
  ].join('\n');
}

export async function runCloud(options: CloudOptions): Promise<ExitCode> {
  if (options.dataplane && process.getuid?.() !== 0) {
    throw new InputError(
      'enforcing security groups needs root (network namespaces, nftables); run as root, or pass --no-dataplane to serve the API only',
    );
  }
  const service = await CloudService.open({
    home: options.home,
    ...(options.region ? { region: options.region } : {}),
    ...(options.clusterName ? { clusterName: options.clusterName } : {}),
    dataplane: options.dataplane,
    onDataplaneError: (error) => {
      log(`dataplane: ${describeError(error)} (it resyncs at the next change)`);
    },
  });
  let endpoint: CloudEndpoint;
  try {
    endpoint = await listen(service, options.home, options.port);
  } catch (error) {
    await service.close();
    throw error;
  }
  service.store.setMeta('port', String(endpoint.port));
  const pidFile = writePidFile(options.home, 'cloud');
  const awsEnv = join(options.home, 'aws-env');
  writeFileSync(awsEnv, awsEnvOf(service, endpoint.url), { mode: 0o600 });
  process.stdout.write(
    `cloud: serving ${endpoint.url} (region ${service.region}, VPC ${service.network.vpcId}, dataplane ${options.dataplane ? 'on' : 'off'}); source ${awsEnv}\n`,
  );
  await untilStopped();
  await endpoint.close();
  await service.close();
  rmSync(pidFile, { force: true });
  log('stopped');
  return exitCodes.success;
}
