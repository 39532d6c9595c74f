/**
 * `sgpods status [--home DIR]`: what of the home's sandbox runs — the cloud and the cluster
 * processes with their endpoints, the dashboard's URL, and the nodes with their node group,
 * instance and readiness.
 * Exit 0 when everything runs and every node is Ready, 1 otherwise.
 */
import { readHomeAwsSettings } from '../../adapters/aws/home-aws.js';
import { kernelPrefix } from '../../core/kernel-names.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { isComponentRunning } from '../sandbox/background-process.js';
import { dashboardUrlOf } from './dashboard.js';
import { kubeApiUrlOf, kubeClientOf, listNodes } from '../sandbox/sandbox-session.js';

function table(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

export async function runStatus(home: string): Promise<ExitCode> {
  const cloudUp = isComponentRunning(home, 'cloud');
  const kubeUp = isComponentRunning(home, 'kube');
  const settings = readHomeAwsSettings(home);
  const lines = [
    `home      ${home} (kernel prefix ${kernelPrefix(home)})`,
    `cloud     ${cloudUp ? `running, ${settings?.endpoint ?? '?'} (${settings?.region ?? '?'})` : 'stopped'}`,
    `cluster   ${kubeUp ? `running, ${kubeApiUrlOf(home) ?? '?'}` : 'stopped'}`,
    `dashboard ${isComponentRunning(home, 'dashboard') ? `running, ${dashboardUrlOf(home) ?? '?'}` : 'stopped'}`,
  ];
  const nodesHealthy = kubeUp ? await describeNodes(home, lines) : false;
  process.stdout.write(`${lines.join('\n')}\n`);
  return cloudUp && nodesHealthy ? exitCodes.success : exitCodes.negative;
}

/** Appends the node table; true when there are nodes and all are Ready. */
async function describeNodes(home: string, lines: string[]): Promise<boolean> {
  const client = kubeClientOf(home);
  if (!client) return false;
  try {
    const nodes = await listNodes(client);
    lines.push(
      '',
      table([
        ['NODE', 'STATUS', 'NODEGROUP', 'INSTANCE-TYPE', 'INTERNAL-IP', 'INSTANCE'],
        ...nodes.map((node) => [
          node.name,
          node.ready ? 'Ready' : 'NotReady',
          node.nodeGroup ?? '<none>',
          node.instanceType,
          node.internalIp,
          node.providerId.split('/').pop() ?? '',
        ]),
      ]),
    );
    return nodes.length > 0 && nodes.every((node) => node.ready);
  } catch (error) {
    lines.push(
      `cluster   not answering: ${error instanceof Error ? error.message : String(error)}`,
    );
    return false;
  } finally {
    client.close();
  }
}
