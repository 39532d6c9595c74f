/**
 * The controller's flags, as upstream's `main.go` names them (rc.md §6.3) where they apply:
 * `--cluster-name` and `--vpc-id` are required; addresses are `[host]:port` like Go's.
 */
import { InputError } from '../core/errors.js';

export interface ControllerSettings {
  readonly clusterName: string;
  readonly vpcId: string;
  readonly awsRegion?: string;
  readonly leaderElect: boolean;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
  readonly metricsBindAddress: BindAddress;
  readonly healthProbeBindAddress: BindAddress;
  readonly webhookPort: number;
  /** The webhook Service (its DNS names go into the serving certificate). */
  readonly webhookService: { readonly name: string; readonly namespace: string };
  readonly apiserverQps: number;
  readonly apiserverBurst: number;
  /** A kubeconfig file; absent: the in-cluster configuration. */
  readonly kubeconfig?: string;
  readonly logLevel: 'info' | 'debug';
  /** The EC2 client's token bucket (upstream's user client; one client serves every call). */
  readonly userClientQps: number;
  readonly userClientBurst: number;
  readonly behaviour: {
    readonly fallbackToInstanceSg: boolean;
    readonly livePolicy: boolean;
    readonly recreateUnadmittedPods: boolean;
  };
}

export interface BindAddress {
  readonly host: string;
  readonly port: number;
}

/** `:8080`, `0.0.0.0:8080`, `127.0.0.1:0` → host and port (an empty host: every address). */
export function parseBindAddress(flag: string, value: string): BindAddress {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:]*):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65535)
    throw new InputError(`invalid ${flag} "${value}": expected [host]:port`);
  return { host: (match[1] ?? '').replace(/^\[|\]$/g, '') || '0.0.0.0', port };
}

export interface RawControllerFlags {
  readonly clusterName?: string;
  readonly vpcId?: string;
  readonly awsRegion?: string;
  readonly leaderElect?: boolean;
  readonly leaderLeaseDurationSeconds?: number;
  readonly leaderLeaseRenewDeadline?: number;
  readonly leaderLeaseRetryPeriod?: number;
  readonly metricsBindAddress?: string;
  readonly healthProbeBindAddress?: string;
  readonly webhookPort?: number;
  readonly webhookServiceName?: string;
  readonly webhookServiceNamespace?: string;
  readonly apiserverQps?: number;
  readonly apiserverBurst?: number;
  readonly kubeconfig?: string;
  readonly logLevel?: string;
  readonly userClientQps?: number;
  readonly userClientBurst?: number;
  readonly fallbackToInstanceSg?: boolean | string;
  readonly livePolicy?: boolean | string;
  readonly recreateUnadmittedPods?: boolean | string;
}

/** A Go-style boolean flag: given alone it is true; `=true`/`=false` (and 1/0) as strconv reads them. */
export function flagBoolean(
  flag: string,
  value: boolean | string | undefined,
  fallback: boolean,
): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  if (/^(1|t|true)$/i.test(value)) return true;
  if (/^(0|f|false)$/i.test(value)) return false;
  throw new InputError(`invalid ${flag} "${value}": true or false`);
}

/** A TCP port; 0 lets the system pick one (tests, benchmarks). */
function portNumber(flag: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 65535)
    throw new InputError(`invalid ${flag} ${String(value)}: must be a port number`);
  return value;
}

function positive(flag: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new InputError(`invalid ${flag} ${String(value)}: must be positive`);
  return value;
}

function leaseTimes(flags: RawControllerFlags) {
  const lease = positive('--leader-lease-duration-seconds', flags.leaderLeaseDurationSeconds ?? 30);
  const renew = positive('--leader-lease-renew-deadline', flags.leaderLeaseRenewDeadline ?? 15);
  const retry = positive('--leader-lease-retry-period', flags.leaderLeaseRetryPeriod ?? 5);
  if (!(lease > renew && renew > retry))
    throw new InputError('leader election needs lease duration > renew deadline > retry period');
  return { leaseDurationSeconds: lease, renewDeadlineSeconds: renew, retryPeriodSeconds: retry };
}

function logLevelOf(flags: RawControllerFlags): 'info' | 'debug' {
  const logLevel = flags.logLevel ?? 'info';
  if (logLevel !== 'info' && logLevel !== 'debug')
    throw new InputError(`invalid --log-level "${logLevel}": info or debug`);
  return logLevel;
}

function serverSettings(flags: RawControllerFlags) {
  return {
    metricsBindAddress: parseBindAddress(
      '--metrics-bind-address',
      flags.metricsBindAddress ?? ':8080',
    ),
    healthProbeBindAddress: parseBindAddress(
      '--health-probe-bind-address',
      flags.healthProbeBindAddress ?? ':61779',
    ),
    webhookPort: portNumber('--webhook-port', flags.webhookPort ?? 9443),
    webhookService: {
      name: flags.webhookServiceName ?? 'vpc-resource-webhook-service',
      namespace: flags.webhookServiceNamespace ?? 'kube-system',
    },
  };
}

export function controllerSettingsFrom(flags: RawControllerFlags): ControllerSettings {
  if (!flags.clusterName) throw new InputError('cluster-name is a required parameter');
  if (!flags.vpcId) throw new InputError('vpc-id is a required parameter');
  return {
    clusterName: flags.clusterName,
    vpcId: flags.vpcId,
    ...(flags.awsRegion && flags.awsRegion !== 'CLUSTER_REGION'
      ? { awsRegion: flags.awsRegion }
      : {}),
    leaderElect: flags.leaderElect ?? false,
    ...leaseTimes(flags),
    ...serverSettings(flags),
    apiserverQps: positive('--apiserver-qps', flags.apiserverQps ?? 20),
    apiserverBurst: positive('--apiserver-burst', flags.apiserverBurst ?? 30),
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    logLevel: logLevelOf(flags),
    userClientQps: positive('--user-client-qps', flags.userClientQps ?? 12),
    userClientBurst: positive('--user-client-burst', flags.userClientBurst ?? 18),
    behaviour: {
      fallbackToInstanceSg: flagBoolean(
        '--fallback-to-instance-sg',
        flags.fallbackToInstanceSg,
        false,
      ),
      livePolicy: flagBoolean('--live-policy', flags.livePolicy, true),
      recreateUnadmittedPods: flagBoolean(
        '--recreate-unadmitted-pods',
        flags.recreateUnadmittedPods,
        true,
      ),
    },
  };
}
