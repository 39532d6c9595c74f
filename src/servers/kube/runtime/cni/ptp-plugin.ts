/**
 * `sgpods-ptp`, the standalone cluster's default CNI plugin (CNI spec 1.0.0): the VPC CNI's
 * point-to-point wiring (`adapters/cni/point-to-point.ts`) with an address from the node's pod
 * range (host-local IPAM: one file per address under `ipam.dataDir`, claimed with O_EXCL so
 * concurrent ADDs never collide). ADD, DEL (idempotent), CHECK, VERSION; errors as CNI error
 * objects. The kubelet runs it inside the node's network namespace.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cniEnvironment,
  CniError,
  runCniPlugin,
} from '../../../../adapters/cni/cni-plugin-protocol.js';
import {
  checkPointToPoint,
  podLinkFromEnvironment,
  unwirePointToPoint,
  wireOrUndo,
} from '../../../../adapters/cni/point-to-point.js';
import { nthAddress, parseCidr } from '../../../../core/net/ip-address.js';

interface NetworkConfig {
  readonly cniVersion?: string;
  readonly name?: string;
  readonly ipam?: { readonly subnet?: string; readonly dataDir?: string };
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

async function add(config: NetworkConfig): Promise<unknown> {
  const link = podLinkFromEnvironment();
  const address = allocate(config, link.containerId, link.ifname);
  return wireOrUndo(link, address, config.cniVersion ?? '1.0.0', () => remove(config));
}

async function remove(config: NetworkConfig): Promise<void> {
  const containerId = cniEnvironment('CNI_CONTAINERID');
  const directory = dataDirectory(config);
  const address = addressOf(directory, containerId);
  await unwirePointToPoint(containerId, address);
  if (address) rmSync(join(directory, address), { force: true });
}

async function check(config: NetworkConfig): Promise<void> {
  const containerId = cniEnvironment('CNI_CONTAINERID');
  const link = podLinkFromEnvironment();
  if (!addressOf(dataDirectory(config), containerId))
    throw new CniError(7, `no address allocated to container ${containerId}`);
  await checkPointToPoint(link);
}

export function main(): Promise<number> {
  return runCniPlugin({ add, remove, check });
}
