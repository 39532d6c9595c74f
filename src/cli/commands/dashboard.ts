/**
 * `sgpods dashboard [--port N]`: serves the dashboard of the home's running sandbox on loopback
 * until stopped (`sgpods up` starts it in the background; `sgpods down` stops it). The URL goes to
 * `<home>/run/dashboard.url`; a taken port falls back to a free one.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDirectory, writePidFile } from '../../adapters/process/pid-file.js';
import { kernelPrefix } from '../../core/kernel-names.js';
import { flowLogPathOf } from '../../servers/cloud/dataplane/flow-log-collector.js';
import { DashboardServer } from '../dashboard/dashboard-server.js';
import { TopologyReader } from '../dashboard/topology-reader.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { FlowLogTail } from '../sandbox/flow-log-tail.js';
import { untilStopped } from '../until-stopped.js';
import { openLiveWorld } from './explain-live.js';

/** The port the dashboard tries first. */
export const defaultDashboardPort = 7480;

export function dashboardUrlPathOf(home: string): string {
  return join(runDirectory(home), 'dashboard.url');
}

/** The running dashboard's URL, as it wrote it (undefined before it listens). */
export function dashboardUrlOf(home: string): string | undefined {
  const path = dashboardUrlPathOf(home);
  return existsSync(path) ? readFileSync(path, 'utf8').trim() || undefined : undefined;
}

export async function runDashboard(options: { home: string; port?: number }): Promise<ExitCode> {
  const { home } = options;
  const live = openLiveWorld(home);
  let server: DashboardServer;
  let url: string;
  try {
    server = new DashboardServer({
      live,
      topology: new TopologyReader(live),
      flows: new FlowLogTail(flowLogPathOf(home), { lastBytes: 256 * 1024 }),
      prefix: kernelPrefix(home),
    });
    url = await server.listen(options.port ?? defaultDashboardPort);
  } catch (error) {
    live.close();
    throw error;
  }
  const pidFile = writePidFile(home, 'dashboard');
  writeFileSync(dashboardUrlPathOf(home), `${url}\n`);
  process.stdout.write(`dashboard: serving ${url}\n`);
  await untilStopped();
  await server.close();
  live.close();
  rmSync(dashboardUrlPathOf(home), { force: true });
  rmSync(pidFile, { force: true });
  return exitCodes.success;
}
