/**
 * How host-side parts of sgpods reach the home's cloud with the AWS SDK: the settings the cloud
 * writes to `<home>/aws-env` (credentials, region, the loopback endpoint), parsed back, and
 * SDK clients made from them (imported lazily: the SDK is heavy).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EKSClient } from '@aws-sdk/client-eks';

export interface HomeAwsSettings {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  readonly endpoint: string;
}

export function awsEnvPath(home: string): string {
  return join(home, 'aws-env');
}

/** The variables `<home>/aws-env` exports (empty while the cloud has not written it). */
export function readAwsEnvVariables(home: string): Record<string, string> {
  const path = awsEnvPath(home);
  const values: Record<string, string> = {};
  if (!existsSync(path)) return values;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^export ([A-Z_0-9]+)='(.*)'$/.exec(line);
    if (match) values[match[1] ?? ''] = (match[2] ?? '').replace(/'\\''/g, "'");
  }
  return values;
}

/** The cloud's settings, or undefined while the cloud has not written them. */
export function readHomeAwsSettings(home: string): HomeAwsSettings | undefined {
  const values = readAwsEnvVariables(home);
  const get = (name: string) => values[name] ?? '';
  const settings = {
    accessKeyId: get('AWS_ACCESS_KEY_ID'),
    secretAccessKey: get('AWS_SECRET_ACCESS_KEY'),
    region: get('AWS_REGION'),
    endpoint: get('AWS_ENDPOINT_URL'),
  };
  return Object.values(settings).every(Boolean) ? settings : undefined;
}

function clientConfig(settings: HomeAwsSettings) {
  return {
    region: settings.region,
    endpoint: settings.endpoint,
    credentials: {
      accessKeyId: settings.accessKeyId,
      secretAccessKey: settings.secretAccessKey,
    },
    maxAttempts: 5,
  };
}

export async function homeEc2Client(settings: HomeAwsSettings): Promise<EC2Client> {
  const { EC2Client } = await import('@aws-sdk/client-ec2');
  return new EC2Client(clientConfig(settings));
}

export async function homeEksClient(settings: HomeAwsSettings): Promise<EKSClient> {
  const { EKSClient } = await import('@aws-sdk/client-eks');
  return new EKSClient(clientConfig(settings));
}
