/**
 * `sgpods agent`: the node agent, as the `aws-node` DaemonSet runs it (settings from the
 * environment, like aws-node's). Runs until SIGTERM or SIGINT.
 */
import { agentSettingsFrom, startAgent } from '../../agent/agent.js';
import { InputError } from '../../core/errors.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { untilStopped } from '../until-stopped.js';

export async function runAgentCommand(): Promise<ExitCode> {
  let settings;
  try {
    settings = agentSettingsFrom(process.env);
  } catch (error) {
    throw new InputError(error instanceof Error ? error.message : String(error));
  }
  const log = (message: string) => {
    process.stderr.write(`${new Date().toISOString()} aws-node: ${message}\n`);
  };
  const agent = await startAgent(settings, log);
  await untilStopped();
  await agent.close();
  log('stopped');
  return exitCodes.success;
}
