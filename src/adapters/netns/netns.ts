/**
 * Network namespaces, links, addresses and routes through iproute2. Commands for one namespace
 * are batched (`ip -n NS -batch -`) and veth pairs are created with both ends in place
 * (`ip -n X link add A type veth peer name B netns Y`): moving links costs ~16 ms each.
 */
import { runCommand } from '../exec/run-command.js';

export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await runCommand(['ip', '-j', 'netns', 'list']);
  const parsed = stdout.trim() ? (JSON.parse(stdout) as { name: string }[]) : [];
  return parsed.map((entry) => entry.name);
}

export async function addNamespace(name: string): Promise<void> {
  if ((await listNamespaces()).includes(name)) return;
  await runCommand(['ip', 'netns', 'add', name]);
  await runCommand(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
}

export async function deleteNamespace(name: string): Promise<void> {
  if (!(await listNamespaces()).includes(name)) return;
  await runCommand(['ip', 'netns', 'del', name]);
}

/** Runs iproute2 batch lines (without the leading `ip`), in `namespace` or the root namespace. */
export async function ipBatch(
  namespace: string | undefined,
  lines: readonly string[],
): Promise<void> {
  if (lines.length === 0) return;
  const argv = namespace ? ['ip', '-n', namespace, '-batch', '-'] : ['ip', '-batch', '-'];
  await runCommand(argv, { input: `${lines.join('\n')}\n` });
}

/**
 * Sets sysctls inside a namespace, in one process. `nsenter --net` is enough (/proc/sys/net
 * follows the caller's network namespace) and much cheaper than `ip netns exec`, which also
 * builds a mount namespace and remounts /sys.
 */
export async function setSysctls(
  namespace: string,
  settings: Readonly<Record<string, string | number>>,
): Promise<void> {
  const pairs = Object.entries(settings).map(([key, value]) => `${key}=${value}`);
  if (pairs.length === 0) return;
  await runCommand(['nsenter', `--net=/run/netns/${namespace}`, 'sysctl', '-q', '-w', ...pairs]);
}

export async function linkNames(namespace: string): Promise<string[]> {
  const { stdout } = await runCommand(['ip', '-n', namespace, '-j', 'link', 'show']);
  return (JSON.parse(stdout) as { ifname: string }[]).map((link) => link.ifname);
}
