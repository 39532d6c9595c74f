/**
 * aws-node's settings, read from its environment (the DaemonSet's `env`) with aws-node's names
 * and defaults. A value that does not parse stops the agent with a message naming the variable,
 * rather than running with a default the user did not ask for.
 */
export type EnforcingMode = 'strict' | 'standard';

export interface AgentSettings {
  readonly cniBinDir: string;
  readonly cniConfDir: string;
  /** Where the agent keeps its sockets and state (one agent per directory). */
  readonly stateDir: string;
  readonly warmIpTarget: number;
  readonly region?: string;
  /** `ENABLE_POD_ENI`: ask for a trunk and wire branch-ENI pods. */
  readonly enablePodEni: boolean;
  /** `POD_SECURITY_GROUP_ENFORCING_MODE`. */
  readonly enforcingMode: EnforcingMode;
  /** `MY_NODE_NAME`: the Node (and CNINode) this agent speaks for. */
  readonly nodeName: string;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`the environment variable ${name} is required`);
  return value;
}

const truths = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const falsehoods = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** A boolean as Go's strconv.ParseBool reads it (what aws-node uses); unset = `fallback`. */
export function envBoolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (truths.has(value)) return true;
  if (falsehoods.has(value)) return false;
  throw new Error(`${name} must be true or false, not "${value}"`);
}

function enforcingModeOf(env: NodeJS.ProcessEnv): EnforcingMode {
  const value = env.POD_SECURITY_GROUP_ENFORCING_MODE ?? '';
  if (value === '') return 'strict';
  if (value === 'strict' || value === 'standard') return value;
  throw new Error(`POD_SECURITY_GROUP_ENFORCING_MODE must be strict or standard, not "${value}"`);
}

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
    enablePodEni: envBoolean(env, 'ENABLE_POD_ENI', false),
    enforcingMode: enforcingModeOf(env),
    nodeName: required(env, 'MY_NODE_NAME'),
  };
}
