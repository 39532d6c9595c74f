/**
 * `sgpods explain` (offline): reads describe-* JSON files, builds the world, evaluates one flow,
 * prints the verdict with the deciding rule of each gate (or why the failing gate failed).
 * Exit 0 allowed, 1 denied, 2 bad input.
 */
import { readFileSync } from 'node:fs';
import {
  parseJsonDocument,
  readNetworkInterfaces,
  readPrefixLists,
  readSecurityGroups,
  type ReadNetworkInterface,
} from '../../adapters/ec2/describe-output.js';
import { InputError } from '../../core/errors.js';
import { parseCidr, parseIpAddress, type IpAddress } from '../../core/net/ip-address.js';
import { evaluateFlow, type Flow } from '../../core/sg/evaluator.js';
import { hasPorts, isIcmp, parseProtocol, type Protocol } from '../../core/sg/protocol.js';
import { World } from '../../core/sg/world.js';
import { exitCodes, type ExitCode } from '../exit-codes.js';
import { explanationJson } from '../format/explanation-json.js';
import { explanationText } from '../format/explanation-text.js';

/** The options as commander parses them (every value a string). */
export interface ExplainOptions {
  readonly from: string;
  readonly to: string;
  readonly protocol: string;
  readonly port?: string;
  readonly icmpType?: string;
  readonly icmpCode?: string;
  readonly securityGroups: string;
  readonly networkInterfaces: string;
  readonly prefixLists?: string;
  readonly vpcCidr?: readonly string[];
  readonly output: 'text' | 'json';
}

function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file'
        : (error as Error).message;
    throw new InputError(`${path}: cannot read: ${reason}`);
  }
  return parseJsonDocument(text, path);
}

function integerOption(
  name: string,
  text: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new InputError(`--${name} must be an integer from ${min} to ${max}, not "${text}"`);
  }
  return Number(text);
}

function protocolOption(text: string): Protocol {
  try {
    return parseProtocol(text);
  } catch {
    throw new InputError(
      `--protocol must be tcp, udp, icmp, icmpv6, -1 or a protocol number 0-255, not "${text}"`,
    );
  }
}

/** The traffic part of the flow, with the option combinations EC2's model allows. */
function trafficOf(
  options: ExplainOptions,
): Pick<Flow, 'protocol' | 'port' | 'icmpType' | 'icmpCode'> {
  const protocol = protocolOption(options.protocol);
  const port = integerOption('port', options.port, 0, 65535);
  const icmpType = integerOption('icmp-type', options.icmpType, 0, 255);
  const icmpCode = integerOption('icmp-code', options.icmpCode, 0, 255);
  const name = options.protocol;
  if (protocol !== 'all' && hasPorts(protocol)) {
    if (port === undefined) throw new InputError(`--protocol ${name} needs --port`);
    if (icmpType !== undefined || icmpCode !== undefined) {
      throw new InputError(`--icmp-type and --icmp-code apply to icmp and icmpv6, not ${name}`);
    }
    return { protocol, port };
  }
  if (port !== undefined) throw new InputError(`--port applies to tcp and udp, not ${name}`);
  if (protocol !== 'all' && isIcmp(protocol)) {
    if (icmpType === undefined) throw new InputError(`--protocol ${name} needs --icmp-type`);
    return { protocol, icmpType, icmpCode: icmpCode ?? 0 };
  }
  if (icmpType !== undefined || icmpCode !== undefined) {
    throw new InputError(`--icmp-type and --icmp-code apply to icmp and icmpv6, not ${name}`);
  }
  return { protocol };
}

/** An endpoint: an address, or an interface id standing for its primary (or same-family) address. */
function resolveEndpoint(
  option: 'from' | 'to',
  text: string,
  interfaces: readonly ReadNetworkInterface[],
  family?: 4 | 6,
): IpAddress {
  const address = parseIpAddress(text);
  if (address) return address;
  if (!text.startsWith('eni-')) {
    throw new InputError(
      `--${option} must be an IP address or a network interface id, not "${text}"`,
    );
  }
  const eni = interfaces.find((candidate) => candidate.networkInterfaceId === text);
  if (!eni)
    throw new InputError(
      `--${option} ${text}: no such network interface in the network-interfaces file`,
    );
  const wanted = family ?? eni.primaryAddress?.family ?? 4;
  const chosen =
    eni.primaryAddress?.family === wanted
      ? eni.primaryAddress
      : eni.addresses.find((a) => a.family === wanted);
  if (!chosen) throw new InputError(`--${option} ${text} has no IPv${wanted} address`);
  return chosen;
}

function assertGroupsKnown(
  world: World,
  interfaces: readonly ReadNetworkInterface[],
  groupsFile: string,
): void {
  for (const eni of interfaces) {
    eni.groupIds.forEach((groupId, index) => {
      if (!world.group(groupId)) {
        throw new InputError(
          `${eni.groupPaths[index] ?? eni.networkInterfaceId}: ${groupId} is not in ${groupsFile}`,
        );
      }
    });
  }
}

const offlineFlags = [
  ['from', '--from <ip|eni-id>'],
  ['to', '--to <ip|eni-id>'],
  ['protocol', '--protocol <name|number>'],
  ['securityGroups', '--security-groups <file>'],
  ['networkInterfaces', '--network-interfaces <file>'],
] as const;

/** The offline form's required flags, refused in commander's words when one is missing. */
export function requireOfflineOptions(options: Partial<ExplainOptions>): ExplainOptions {
  for (const [key, flag] of offlineFlags) {
    if (options[key] === undefined) throw new InputError(`required option '${flag}' not specified`);
  }
  return options as ExplainOptions;
}

export function runExplain(options: ExplainOptions): ExitCode {
  const groupsFile = options.securityGroups;
  const interfacesFile = options.networkInterfaces;
  const traffic = trafficOf(options);
  const groups = readSecurityGroups(readJsonFile(groupsFile), groupsFile);
  const interfaces = readNetworkInterfaces(readJsonFile(interfacesFile), interfacesFile);
  const listsFile = options.prefixLists;
  const prefixLists = listsFile ? readPrefixLists(readJsonFile(listsFile), listsFile) : [];
  const vpcCidrs = (options.vpcCidr ?? []).map((text) => {
    const parsed = parseCidr(text);
    if (!parsed) throw new InputError(`--vpc-cidr "${text}" is not a CIDR block`);
    return parsed.cidr;
  });
  const world = new World({ groups, networkInterfaces: interfaces, prefixLists, vpcCidrs });
  assertGroupsKnown(world, interfaces, groupsFile);
  // An address given on either side fixes the family an interface id stands for.
  const explicitFamily = parseIpAddress(options.from)?.family ?? parseIpAddress(options.to)?.family;
  const source = resolveEndpoint('from', options.from, interfaces, explicitFamily);
  const destination = resolveEndpoint(
    'to',
    options.to,
    interfaces,
    explicitFamily ?? source.family,
  );
  const evaluation = evaluateFlow(world, { source, destination, ...traffic });
  const output =
    options.output === 'json'
      ? `${JSON.stringify(explanationJson(world, evaluation), null, 2)}\n`
      : explanationText(world, evaluation);
  process.stdout.write(output);
  return evaluation.verdict === 'allow' ? exitCodes.success : exitCodes.negative;
}
