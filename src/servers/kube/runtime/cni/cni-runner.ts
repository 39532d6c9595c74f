/**
 * The kubelet's side of the CNI spec: the first network configuration of the node's conf dir
 * (`*.conflist`, or `*.conf` as a one-plugin list), each plugin executed from the bin dir inside
 * the node's network namespace with `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`,
 * `CNI_PATH` and the configuration (with `name`, `cniVersion` and `prevResult`) on stdin. ADD
 * runs the plugins in order, DEL in reverse and keeps going past failures, as libcni does.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

type Json = Record<string, unknown>;

const text = (value: unknown, fallback = ''): string =>
  typeof value === 'string' ? value : fallback;

export interface CniNode {
  /** The node's network namespace (plugins run inside it). */
  readonly namespace: string;
  readonly confDir: string;
  readonly binDir: string;
}

export interface CniRequest {
  readonly containerId: string;
  /** The pod's network namespace path (`/run/netns/<name>`). */
  readonly netns: string;
  readonly ifname: string;
  /** CNI_ARGS (`K8S_POD_NAMESPACE=…;K8S_POD_NAME=…`). */
  readonly args?: string;
}

export class CniFailure extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

interface NetworkList {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: Json[];
}

function loadNetworkList(confDir: string): NetworkList {
  const files = existsSync(confDir)
    ? readdirSync(confDir)
        .filter((name) => /\.(conflist|conf|json)$/.test(name))
        .sort()
    : [];
  const first = files[0];
  if (!first) throw new CniFailure(`no networks found in ${confDir}`);
  const parsed = JSON.parse(readFileSync(join(confDir, first), 'utf8')) as Json;
  if (Array.isArray(parsed.plugins)) {
    return {
      cniVersion: text(parsed.cniVersion, '1.0.0'),
      name: text(parsed.name),
      plugins: parsed.plugins as Json[],
    };
  }
  return {
    cniVersion: text(parsed.cniVersion, '1.0.0'),
    name: text(parsed.name),
    plugins: [parsed],
  };
}

function execPlugin(
  node: CniNode,
  command: string,
  plugin: Json,
  request: CniRequest,
  stdin: Json,
): Promise<Json | undefined> {
  const type = text(plugin.type);
  const binary = join(node.binDir, type);
  if (!type || !existsSync(binary))
    return Promise.reject(
      new CniFailure(
        `plugin type="${type}" failed (${command.toLowerCase()}): failed to find plugin "${type}" in path [${node.binDir}]`,
      ),
    );
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=/run/netns/${node.namespace}`, binary], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        CNI_COMMAND: command,
        CNI_CONTAINERID: request.containerId,
        CNI_NETNS: request.netns,
        CNI_IFNAME: request.ifname,
        CNI_PATH: node.binDir,
        ...(request.args ? { CNI_ARGS: request.args } : {}),
      },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new CniFailure(error.message));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = Buffer.concat(out).toString('utf8').trim();
      let body: Json | undefined;
      try {
        body = text ? (JSON.parse(text) as Json) : undefined;
      } catch {
        body = undefined;
      }
      if (code === 0) {
        resolve(body);
        return;
      }
      const message =
        typeof body?.msg === 'string' ? body.msg : Buffer.concat(err).toString().trim() || text;
      // libcni's types.Error: `<msg>; <details>`, wrapped as `plugin type="x" failed (add): …`.
      const details = typeof body?.details === 'string' && body.details ? `; ${body.details}` : '';
      reject(
        new CniFailure(
          `plugin type="${type}" failed (${command.toLowerCase()}): ${message}${details}`,
          typeof body?.code === 'number' ? body.code : undefined,
        ),
      );
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(stdin));
  });
}

function pluginConfig(list: NetworkList, plugin: Json, prevResult: Json | undefined): Json {
  return {
    ...plugin,
    cniVersion: list.cniVersion,
    name: list.name,
    ...(prevResult ? { prevResult } : {}),
  };
}

/** ADD through every plugin; the last result (addresses, interfaces). */
export async function cniAdd(node: CniNode, request: CniRequest): Promise<Json> {
  const list = loadNetworkList(node.confDir);
  let result: Json | undefined;
  for (const plugin of list.plugins) {
    result =
      (await execPlugin(node, 'ADD', plugin, request, pluginConfig(list, plugin, result))) ??
      result;
  }
  return result ?? {};
}

/** DEL through every plugin in reverse; the first failure is reported after all ran. */
export async function cniDel(node: CniNode, request: CniRequest): Promise<void> {
  const list = loadNetworkList(node.confDir);
  let failure: Error | undefined;
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await execPlugin(node, 'DEL', plugin, request, pluginConfig(list, plugin, undefined));
    } catch (error) {
      failure ??= error instanceof Error ? error : new CniFailure(JSON.stringify(error));
    }
  }
  if (failure) throw failure;
}

export async function cniCheck(
  node: CniNode,
  request: CniRequest,
  prevResult: Json,
): Promise<void> {
  const list = loadNetworkList(node.confDir);
  for (const plugin of list.plugins) {
    await execPlugin(node, 'CHECK', plugin, request, pluginConfig(list, plugin, prevResult));
  }
}

/** The first IPv4 address of a CNI result, without its prefix length. */
export function resultAddress(result: Json): string | undefined {
  const ips = Array.isArray(result.ips) ? (result.ips as Json[]) : [];
  const address = ips.map((ip) => text(ip.address)).find((text) => text.includes('.'));
  return address?.split('/')[0];
}
