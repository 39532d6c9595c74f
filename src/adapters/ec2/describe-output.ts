/**
 * Reads what `aws ec2 describe-security-groups`, `describe-network-interfaces` and the managed
 * prefix-list calls print (`--output json`; SDK v3 returns the same shapes) into core objects.
 * Fields the evaluator does not need are optional. Every problem names the document, the JSON
 * path and what is wrong, e.g. `sg.json: SecurityGroups[0].IpPermissions[1].IpRanges[0].CidrIp:
 * CIDR block 10.0.0.0/33 is malformed`.
 */
import { Ec2RequestError, InputError } from '../../core/errors.js';
import { parseCidr, parseIpAddress, type Cidr, type IpAddress } from '../../core/net/ip-address.js';
import { isResourceId } from '../../core/sg/resource-ids.js';
import {
  normalizeRule,
  type Direction,
  type RuleSpec,
  type SecurityGroupRule,
} from '../../core/sg/rule.js';
import type { SecurityGroup } from '../../core/sg/security-group.js';
import type { NetworkInterface, PrefixList } from '../../core/sg/world.js';

type Json = Record<string, unknown>;

/**
 * Walks a decoded JSON document. The path for error messages is built only when one is needed:
 * documents of 300,000 rules are read on the hot path of `sgpods explain`.
 */
class JsonCursor {
  constructor(
    readonly document: string,
    readonly value: unknown,
    private readonly parent?: JsonCursor,
    private readonly segment?: string | number,
  ) {}

  get path(): string {
    if (this.parent === undefined || this.segment === undefined) return '';
    const above = this.parent.path;
    if (typeof this.segment === 'number') return `${above}[${this.segment}]`;
    return above ? `${above}.${this.segment}` : this.segment;
  }

  fail(problem: string): never {
    throw new InputError(`${this.document}: ${this.path || '(top level)'}: ${problem}`);
  }

  field(name: string): JsonCursor {
    const record = this.object();
    return new JsonCursor(this.document, record[name], this, name);
  }

  object(): Json {
    if (typeof this.value !== 'object' || this.value === null || Array.isArray(this.value)) {
      this.fail(`expected an object, found ${describeJson(this.value)}`);
    }
    return this.value as Json;
  }

  isAbsent(): boolean {
    return this.value === undefined || this.value === null;
  }

  /** Items of an array; an absent field is an empty list. */
  items(): JsonCursor[] {
    if (this.isAbsent()) return [];
    if (!Array.isArray(this.value))
      this.fail(`expected an array, found ${describeJson(this.value)}`);
    return (this.value as unknown[]).map(
      (item, index) => new JsonCursor(this.document, item, this, index),
    );
  }

  string(): string {
    if (typeof this.value !== 'string')
      this.fail(`expected a string, found ${describeJson(this.value)}`);
    return this.value;
  }

  optionalString(): string | undefined {
    return this.isAbsent() ? undefined : this.string();
  }

  optionalInteger(): number | undefined {
    if (this.isAbsent()) return undefined;
    if (typeof this.value !== 'number' || !Number.isInteger(this.value)) {
      this.fail(`expected an integer, found ${describeJson(this.value)}`);
    }
    return this.value;
  }

  resourceId(kind: 'securityGroup' | 'networkInterface' | 'prefixList', example: string): string {
    const id = this.string();
    if (!isResourceId(kind, id)) this.fail(`"${id}" is not a valid id (expecting "${example}")`);
    return id;
  }

  address(): IpAddress {
    const text = this.string();
    return parseIpAddress(text) ?? this.fail(`"${text}" is not an IP address`);
  }

  cidr(): Cidr {
    const text = this.string();
    return parseCidr(text)?.cidr ?? this.fail(`"${text}" is not a CIDR block`);
  }
}

function describeJson(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/** Parses JSON text, naming the document in the error. */
export function parseJsonDocument(text: string, document: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError(`${document}: not valid JSON: ${(error as Error).message}`);
  }
}

/** The list under `key`, or the document itself when it is already a list. */
function topLevelList(document: string, value: unknown, key: string): JsonCursor[] {
  const root = new JsonCursor(document, value);
  if (Array.isArray(value)) return root.items();
  const list = root.field(key);
  if (list.isAbsent()) root.fail(`expected a "${key}" list`);
  return list.items();
}

const peerFields: [list: string, field: string, spec: keyof RuleSpec][] = [
  ['IpRanges', 'CidrIp', 'cidrIpv4'],
  ['Ipv6Ranges', 'CidrIpv6', 'cidrIpv6'],
  ['PrefixListIds', 'PrefixListId', 'prefixListId'],
  ['UserIdGroupPairs', 'GroupId', 'referencedGroupId'],
];

/** One `IpPermission` becomes one rule per peer entry, as EC2 stores it. */
function rulesOfPermission(
  groupId: string,
  direction: Direction,
  permission: JsonCursor,
): SecurityGroupRule[] {
  const protocol = permission.field('IpProtocol').string();
  const fromPort = permission.field('FromPort').optionalInteger();
  const toPort = permission.field('ToPort').optionalInteger();
  const rules: SecurityGroupRule[] = [];
  for (const [list, field, specKey] of peerFields) {
    for (const entry of permission.field(list).items()) {
      const value = entry.field(field);
      const description = entry.field('Description').optionalString();
      const spec: RuleSpec = {
        protocol,
        ...(fromPort === undefined ? {} : { fromPort }),
        ...(toPort === undefined ? {} : { toPort }),
        [specKey]: value.string(),
      };
      try {
        rules.push({
          ...normalizeRule(groupId, direction, spec),
          ...(description ? { description } : {}),
        });
      } catch (error) {
        if (error instanceof Ec2RequestError) value.fail(`${error.message} (${error.awsCode})`);
        throw error;
      }
    }
  }
  return rules;
}

export function readSecurityGroups(value: unknown, document: string): SecurityGroup[] {
  return topLevelList(document, value, 'SecurityGroups').map((group) => {
    const groupId = group.field('GroupId').resourceId('securityGroup', 'sg-...');
    const groupName = group.field('GroupName').optionalString() ?? groupId;
    const vpcId = group.field('VpcId').optionalString();
    const rules = [
      ...group
        .field('IpPermissions')
        .items()
        .flatMap((p) => rulesOfPermission(groupId, 'ingress', p)),
      ...group
        .field('IpPermissionsEgress')
        .items()
        .flatMap((p) => rulesOfPermission(groupId, 'egress', p)),
    ];
    return { groupId, groupName, ...(vpcId ? { vpcId } : {}), rules };
  });
}

export interface ReadNetworkInterface extends NetworkInterface {
  /** The primary private IPv4 address, when the interface has one. */
  readonly primaryAddress?: IpAddress;
  /** JSON path of each group id, for messages about groups missing elsewhere. */
  readonly groupPaths: readonly string[];
}

function addressesOf(eni: JsonCursor): { addresses: IpAddress[]; primary?: IpAddress } {
  const addresses: IpAddress[] = [];
  const add = (address: IpAddress): void => {
    if (!addresses.some((known) => known.text === address.text)) addresses.push(address);
  };
  const top = eni.field('PrivateIpAddress');
  let primary = top.isAbsent() ? undefined : top.address();
  if (primary) add(primary);
  for (const entry of eni.field('PrivateIpAddresses').items()) {
    const address = entry.field('PrivateIpAddress').address();
    if (entry.field('Primary').value === true) primary ??= address;
    add(address);
  }
  for (const entry of eni.field('Ipv6Addresses').items()) add(entry.field('Ipv6Address').address());
  return { addresses, ...(primary ? { primary } : {}) };
}

export function readNetworkInterfaces(value: unknown, document: string): ReadNetworkInterface[] {
  return topLevelList(document, value, 'NetworkInterfaces').map((eni) => {
    const networkInterfaceId = eni
      .field('NetworkInterfaceId')
      .resourceId('networkInterface', 'eni-...');
    const { addresses, primary } = addressesOf(eni);
    if (addresses.length === 0)
      eni.fail('the interface has no PrivateIpAddress(es) or Ipv6Addresses');
    const groups = eni.field('Groups').items();
    const groupIds = groups.map((group) =>
      group.field('GroupId').resourceId('securityGroup', 'sg-...'),
    );
    const description = eni.field('Description').optionalString();
    const interfaceType = eni.field('InterfaceType').optionalString();
    const vpcId = eni.field('VpcId').optionalString();
    return {
      networkInterfaceId,
      addresses,
      groupIds,
      groupPaths: groups.map((group) => `${document}: ${group.path}.GroupId`),
      ...(primary ? { primaryAddress: primary } : {}),
      ...(description ? { description } : {}),
      ...(interfaceType ? { interfaceType } : {}),
      ...(vpcId ? { vpcId } : {}),
    };
  });
}

/** `{"PrefixLists":[{"PrefixListId":"pl-…","Entries":[{"Cidr":"…"}]}]}`. */
export function readPrefixLists(value: unknown, document: string): PrefixList[] {
  return topLevelList(document, value, 'PrefixLists').map((list) => ({
    prefixListId: list.field('PrefixListId').resourceId('prefixList', 'pl-...'),
    cidrs: list
      .field('Entries')
      .items()
      .map((entry) => entry.field('Cidr').cidr()),
  }));
}
