/**
 * The node agent (`aws-node`'s role): runs in the node's network namespace (a hostNetwork
 * DaemonSet pod), learns its instance from the metadata service, talks to EC2 with the SDK's
 * default credentials and endpoint (instance role credentials; the endpoint name resolves to
 * the VPC's interface endpoint in the sandbox), serves IPAM to the CNI plugin over a unix
 * socket, and installs the plugin and its configuration into the node's CNI directories.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { installCni } from './cni-install.js';
import { readInstanceFacts } from './instance-metadata.js';
import { IpamDaemon } from './ipam-daemon.js';

export interface AgentSettings {
  readonly cniBinDir: string;
  readonly cniConfDir: string;
  /** Where the agent keeps its sockets and state (one agent per directory). */
  readonly stateDir: string;
  readonly warmIpTarget: number;
  readonly region?: string;
}

export interface RunningAgent {
  close(): Promise<void>;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`the environment variable ${name} is required`);
  return value;
}

/** aws-node's settings from its environment (the DaemonSet's `env`). */
export function agentSettingsFrom(env: NodeJS.ProcessEnv): AgentSettings {
  const warm = Number(env.WARM_IP_TARGET ?? '1');
  if (!Number.isInteger(warm) || warm < 0)
    throw new Error(`WARM_IP_TARGET must be a whole number, not "${env.WARM_IP_TARGET ?? ''}"`);
  return {
    cniBinDir: required(env, 'CNI_BIN_DIR'),
    cniConfDir: required(env, 'CNI_CONF_DIR'),
    stateDir: required(env, 'AGENT_STATE_DIR'),
    warmIpTarget: warm,
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
  };
}

export async function startAgent(
  settings: AgentSettings,
  log: (message: string) => void,
): Promise<RunningAgent> {
  const instance = await readInstanceFacts();
  log(
    `instance ${instance.instanceId} (${instance.instanceType}), ENI ${instance.primaryInterfaceId}`,
  );
  const { EC2Client } = await import('@aws-sdk/client-ec2');
  const ec2 = new EC2Client({ region: settings.region ?? instance.region, maxAttempts: 5 });
  const directory = join(settings.stateDir, instance.instanceId);
  mkdirSync(directory, { recursive: true });
  const socketPath = join(directory, 'ipamd.sock');
  const ipam = new IpamDaemon({
    ec2,
    interfaceId: instance.primaryInterfaceId,
    poolFile: join(directory, 'ipam.json'),
    socketPath,
    warmTarget: settings.warmIpTarget,
    onError: (error) => {
      log(`ipamd: ${error instanceof Error ? error.message : String(error)}`);
    },
  });
  await ipam.start();
  installCni(settings.cniBinDir, settings.cniConfDir, socketPath);
  log(`serving IPAM on ${socketPath}; CNI installed in ${settings.cniConfDir}`);
  return {
    close: async () => {
      await ipam.close();
      ec2.destroy();
    },
  };
}
