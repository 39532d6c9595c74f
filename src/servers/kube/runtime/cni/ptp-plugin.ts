/**
 * `sgpods-ptp`, the standalone cluster's default CNI plugin (CNI spec 1.0.0): a veth pair from
 * the node's namespace into the pod's, an address from the node's pod range (host-local IPAM:
 * one file per address under `ipam.dataDir`, claimed with O_EXCL so concurrent ADDs never
 * collide), and the VPC CNI's point-to-point layout — the pod's address as /32 with a default
 * route via 169.254.1.1 on eth0 and a permanent neighbour entry for it, the node holding a /32
 * route to the pod. ADD, DEL (idempotent), CHECK, VERSION; errors as CNI error objects.
 * The kubelet runs it inside the node's network namespace.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { runCommand } from '../../../../adapters/exec/run-command.js';
import { nthAddress, parseCidr } from '../../../../core/net/ip-address.js';

export const supportedVersions = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'];

interface NetworkConfig {
  readonly cniVersion?: string;
  readonly name?: string;
  readonly ipam?: { readonly subnet?: string; readonly dataDir?: string };
}

class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
  }
}

/** The node end of a pod's veth, from the container id (fits IFNAMSIZ). */
export function hostInterfaceName(containerId: string): string {
  return `veth${createHash('sha1').update(containerId).digest('hex').slice(0, 11)}`;
}

function hostMac(containerId: string): string {
  const bytes = createHash('sha1').update(`mac:${containerId}`).digest().subarray(0, 5);
  return ['02', ...[...bytes].map((byte) => byte.toString(16).padStart(2, '0'))].join(':');
}

function environment(name: string): string {
  const value = process.env[name];
  if (!value) throw new CniError(4, `required env variable ${name} missing`);
  return value;
}

function dataDirectory(config: NetworkConfig): string {
  const directory = config.ipam?.dataDir;
  if (!directory) throw new CniError(7, 'ipam.dataDir missing from the network configuration');
  mkdirSync(directory, { recursive: true });
  return directory;
}

/** Claims the lowest free address of the subnet (network, gateway .1 and broadcast excluded). */
function allocate(config: NetworkConfig, containerId: string, ifname: string): string {
  const subnet = config.ipam?.subnet;
  const cidr = subnet ? parseCidr(subnet)?.cidr : undefined;
  if (!cidr || cidr.family !== 4)
    throw new CniError(7, `ipam.subnet "${subnet ?? ''}" is not an IPv4 CIDR`);
  const directory = dataDirectory(config);
  const existing = addressOf(directory, containerId);
  if (existing) return existing;
  const size = 2 ** (32 - cidr.prefixLength);
  for (let index = 2; index < size - 1; index += 1) {
    const address = nthAddress(cidr, index).text;
    try {
      writeFileSync(join(directory, address), `${containerId}\n${ifname}\n`, { flag: 'wx' });
      return address;
    } catch {
      // Taken: try the next one.
    }
  }
  throw new CniError(11, `no IP addresses available in range set: ${subnet ?? ''}`);
}

function addressOf(directory: string, containerId: string): string | undefined {
  for (const name of readdirSync(directory)) {
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(name)) continue;
    try {
      if (readFileSync(join(directory, name), 'utf8').split('\n')[0] === containerId) return name;
    } catch {
      // Released meanwhile.
    }
  }
  return undefined;
}

function netnsName(path: string): string {
  if (!path.startsWith('/run/netns/') && !path.startsWith('/var/run/netns/'))
    throw new CniError(4, `CNI_NETNS ${path} is not under /run/netns`);
  return basename(path);
}

async function linkExists(name: string, namespace?: string): Promise<boolean> {
  const argv = namespace
    ? ['ip', '-n', namespace, 'link', 'show', name]
    : ['ip', 'link', 'show', name];
  const { exitCode } = await runCommand(argv, { okExitCodes: [0, 1, 255] });
  return exitCode === 0;
}

async function add(config: NetworkConfig): Promise<unknown> {
  const containerId = environment('CNI_CONTAINERID');
  const netns = netnsName(environment('CNI_NETNS'));
  const ifname = environment('CNI_IFNAME');
  const host = hostInterfaceName(containerId);
  const mac = hostMac(containerId);
  const address = allocate(config, containerId, ifname);
  try {
    if (!(await linkExists(host))) {
      await runCommand([
        'ip',
        'link',
        'add',
        host,
        'address',
        mac,
        'type',
        'veth',
        'peer',
        'name',
        ifname,
        'netns',
        netns,
      ]);
    }
    // As the reference ptp plugin does: the node routes between its pods.
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    await runCommand(['ip', '-batch', '-'], {
      input: `link set ${host} up\nroute replace ${address}/32 dev ${host} scope link\n`,
    });
    await runCommand(['ip', '-n', netns, '-batch', '-'], {
      input: [
        `addr replace ${address}/32 dev ${ifname}`,
        `link set ${ifname} up`,
        `route replace 169.254.1.1 dev ${ifname} scope link`,
        `route replace default via 169.254.1.1 dev ${ifname}`,
        `neigh replace 169.254.1.1 dev ${ifname} lladdr ${mac} nud permanent`,
        '',
      ].join('\n'),
    });
  } catch (error) {
    await remove(config).catch(() => undefined);
    throw new CniError(
      999,
      'failed to set up the pod network',
      error instanceof Error ? error.message : String(error),
    );
  }
  const { stdout } = await runCommand(['ip', '-n', netns, '-j', 'link', 'show', ifname]);
  const podMac = (JSON.parse(stdout) as { address?: string }[])[0]?.address ?? '';
  return {
    cniVersion: config.cniVersion ?? '1.0.0',
    interfaces: [
      { name: host, mac },
      { name: ifname, mac: podMac, sandbox: environment('CNI_NETNS') },
    ],
    ips: [{ address: `${address}/32`, gateway: '169.254.1.1', interface: 1 }],
    routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }],
    dns: {},
  };
}

async function remove(config: NetworkConfig): Promise<void> {
  const containerId = environment('CNI_CONTAINERID');
  const host = hostInterfaceName(containerId);
  const directory = dataDirectory(config);
  const address = addressOf(directory, containerId);
  if (await linkExists(host))
    await runCommand(['ip', 'link', 'del', host], { okExitCodes: [0, 1, 2] });
  if (address) {
    await runCommand(['ip', 'route', 'del', `${address}/32`], { okExitCodes: [0, 1, 2] });
    rmSync(join(directory, address), { force: true });
  }
}

async function check(config: NetworkConfig): Promise<void> {
  const containerId = environment('CNI_CONTAINERID');
  const netns = netnsName(environment('CNI_NETNS'));
  const ifname = environment('CNI_IFNAME');
  if (!addressOf(dataDirectory(config), containerId))
    throw new CniError(7, `no address allocated to container ${containerId}`);
  if (!(await linkExists(hostInterfaceName(containerId))))
    throw new CniError(999, `host interface ${hostInterfaceName(containerId)} is missing`);
  if (!(await linkExists(ifname, netns)))
    throw new CniError(999, `interface ${ifname} is missing in ${netns}`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function main(): Promise<number> {
  const command = process.env.CNI_COMMAND ?? '';
  let version = '1.0.0';
  try {
    if (command === 'VERSION') {
      process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', supportedVersions }));
      return 0;
    }
    const config = JSON.parse((await readStdin()) || '{}') as NetworkConfig;
    version = config.cniVersion ?? version;
    if (!supportedVersions.includes(version))
      throw new CniError(1, `incompatible CNI version ${version}`);
    switch (command) {
      case 'ADD':
        process.stdout.write(JSON.stringify(await add(config)));
        return 0;
      case 'DEL':
        await remove(config);
        return 0;
      case 'CHECK':
        await check(config);
        return 0;
      default:
        throw new CniError(4, `unknown CNI_COMMAND "${command}"`);
    }
  } catch (error) {
    const failure =
      error instanceof CniError
        ? error
        : new CniError(999, error instanceof Error ? error.message : String(error));
    process.stdout.write(
      JSON.stringify({
        cniVersion: version,
        code: failure.code,
        msg: failure.message,
        details: failure.details,
      }),
    );
    return 1;
  }
}
