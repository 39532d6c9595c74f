/**
 * One probe attempt, as the kubelet runs it: `exec` inside the container's namespaces
 * (nsenter into its init), `tcpSocket` and `httpGet` from the node's network namespace to the
 * pod's address. Messages are worded as the kubelet's `Unhealthy` events word them.
 */
import { runCommand } from '../../../../adapters/exec/run-command.js';

type Json = Record<string, unknown>;

export interface ProbeTarget {
  readonly nodeNamespace: string;
  readonly podIp: string;
  /** The container's PID 1 on the host, for exec probes. */
  readonly initPid: number | undefined;
  /** Named container ports (`http` → 8080). */
  readonly ports: Readonly<Record<string, number>>;
}

export interface ProbeOutcome {
  readonly ok: boolean;
  readonly message: string;
}

function portOf(value: unknown, ports: Readonly<Record<string, number>>): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return /^\d+$/.test(value) ? Number(value) : ports[value];
  return undefined;
}

const anyExitCode = Array.from({ length: 256 }, (_, code) => code);

function timeoutsOf(probe: Json): { seconds: number; ms: number } {
  const seconds = typeof probe.timeoutSeconds === 'number' ? probe.timeoutSeconds : 1;
  return { seconds, ms: seconds * 1000 + 500 };
}

async function execProbe(exec: Json, probe: Json, target: ProbeTarget): Promise<ProbeOutcome> {
  const command = (exec.command ?? []) as string[];
  const timeout = timeoutsOf(probe);
  if (target.initPid === undefined) return { ok: false, message: 'container is not running' };
  const argv = ['timeout', String(timeout.seconds), 'nsenter', '-t', String(target.initPid)];
  try {
    const result = await runCommand([...argv, '-m', '-p', '-n', '-u', '--', ...command], {
      okExitCodes: anyExitCode,
      timeoutMs: timeout.ms,
    });
    if (result.exitCode === 0) return { ok: true, message: '' };
    if (result.exitCode === 124)
      return { ok: false, message: `command timed out after ${timeout.seconds}s` };
    return { ok: false, message: (result.stdout + result.stderr).trim() };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

async function tcpProbe(socket: Json, probe: Json, target: ProbeTarget): Promise<ProbeOutcome> {
  const timeout = timeoutsOf(probe);
  const port = portOf(socket.port, target.ports);
  const host = typeof socket.host === 'string' ? socket.host : target.podIp;
  const script = `exec 3<>/dev/tcp/${host}/${String(port)}`;
  // --norc: bash reads ~/.bashrc when its stdin is a socket (as libuv's pipes are) and SHLVL is
  // unset, and a slow rc file (pyenv init) then eats the probe's whole timeout.
  const result = await runCommand(
    [
      ...inNode(target),
      'timeout',
      String(timeout.seconds),
      'bash',
      '--norc',
      '--noprofile',
      '-c',
      script,
    ],
    { okExitCodes: anyExitCode, timeoutMs: timeout.ms },
  ).catch(() => ({ exitCode: 1 }));
  return result.exitCode === 0
    ? { ok: true, message: '' }
    : { ok: false, message: `dial tcp ${host}:${String(port)}: connect: connection refused` };
}

async function httpProbe(get: Json, probe: Json, target: ProbeTarget): Promise<ProbeOutcome> {
  const timeout = timeoutsOf(probe);
  const port = portOf(get.port, target.ports);
  const host = typeof get.host === 'string' ? get.host : target.podIp;
  const scheme = get.scheme === 'HTTPS' ? 'https' : 'http';
  const url = `${scheme}://${host}:${String(port)}${typeof get.path === 'string' ? get.path : '/'}`;
  const headers = ((get.httpHeaders ?? []) as { name: string; value: string }[]).flatMap(
    (header) => ['-H', `${header.name}: ${header.value}`],
  );
  const curl = ['curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}', '-A', 'kube-probe/1.32'];
  const result = await runCommand(
    [...inNode(target), ...curl, '--max-time', String(timeout.seconds), ...headers, url],
    { okExitCodes: anyExitCode, timeoutMs: timeout.ms },
  ).catch(() => ({ exitCode: 1, stdout: '000' }));
  const status = Number(result.stdout.trim());
  if (status >= 200 && status < 400) return { ok: true, message: '' };
  if (status > 0) return { ok: false, message: `HTTP probe failed with statuscode: ${status}` };
  const cause =
    result.exitCode === 28
      ? 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
      : `dial tcp ${host}:${String(port)}: connect: connection refused`;
  return { ok: false, message: `Get "${url}": ${cause}` };
}

function inNode(target: ProbeTarget): string[] {
  return ['nsenter', `--net=/run/netns/${target.nodeNamespace}`];
}

export async function runProbe(probe: Json, target: ProbeTarget): Promise<ProbeOutcome> {
  if (probe.exec) return execProbe(probe.exec as Json, probe, target);
  if (probe.tcpSocket) return tcpProbe(probe.tcpSocket as Json, probe, target);
  if (probe.httpGet) return httpProbe(probe.httpGet as Json, probe, target);
  return { ok: true, message: '' };
}
