/**
 * eksctl's `ClusterConfig` (`eksctl.io/v1alpha5`), the file `sgpods up -f` and
 * `sgpods nodegroup create -f` read: the cluster's name, region and version, its VPC CIDR, and
 * its managed and self-managed node groups (name, instance type, sizes, labels, taints), with
 * eksctl's defaults and its errors (unknown fields are refused, as eksctl's strict decoding
 * does). Pure: the caller parses the YAML.
 */
import { InputError } from '../errors.js';
import { instanceTypeLimits } from '../instance-types/instance-types.js';
import { parseCidr } from '../net/ip-address.js';

type Json = Record<string, unknown>;

export interface Taint {
  readonly key: string;
  readonly value: string;
  readonly effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface NodeGroupConfig {
  readonly name: string;
  /** `managedNodeGroups` (EKS-managed) or `nodeGroups` (self-managed). */
  readonly managed: boolean;
  readonly instanceType: string;
  readonly desiredCapacity: number;
  readonly minSize: number;
  readonly maxSize: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
}

export interface ClusterConfig {
  readonly name: string;
  readonly region: string;
  readonly version: string;
  readonly vpcCidr: string;
  readonly nodeGroups: readonly NodeGroupConfig[];
}

/** What eksctl creates without a file for the workshop: its base cluster. */
export const workshopClusterConfig: ClusterConfig = {
  name: 'eksworkshop-eksctl',
  region: 'us-west-2',
  version: '1.32',
  vpcCidr: '192.168.0.0/16',
  nodeGroups: [
    {
      name: 'nodegroup',
      managed: true,
      instanceType: 't3.large',
      desiredCapacity: 2,
      minSize: 2,
      maxSize: 2,
      labels: {},
      taints: [],
    },
  ],
};

const topLevelFields = [
  'apiVersion',
  'kind',
  'metadata',
  'vpc',
  'managedNodeGroups',
  'nodeGroups',
  'iam',
  'availabilityZones',
  'cloudWatch',
  'addons',
];
const metadataFields = ['name', 'region', 'version', 'tags', 'annotations'];
const nodeGroupFields = [
  'name',
  'instanceType',
  'desiredCapacity',
  'minSize',
  'maxSize',
  'labels',
  'taints',
  'volumeSize',
  'volumeType',
  'amiFamily',
  'ssh',
  'iam',
  'privateNetworking',
  'tags',
  'availabilityZones',
  'spot',
  'instanceTypes',
];
const effects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];
const namePattern = /^[a-zA-Z][-a-zA-Z0-9]*$/;

function fail(source: string, message: string): never {
  throw new InputError(`couldn't parse config file "${source}": ${message}`);
}

function objectAt(value: unknown, source: string, field: string): Json {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    fail(source, `error unmarshaling JSON: ${field} must be an object`);
  return value as Json;
}

function checkFields(object: Json, allowed: readonly string[], source: string): void {
  const unknown = Object.keys(object).find((field) => !allowed.includes(field));
  if (unknown !== undefined)
    fail(source, `error unmarshaling JSON: while decoding JSON: json: unknown field "${unknown}"`);
}

function stringAt(
  object: Json,
  field: string,
  fallback: string,
  source: string,
  where: string,
): string {
  const value = object[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' && typeof value !== 'number')
    fail(source, `error unmarshaling JSON: ${where}.${field} must be a string`);
  return String(value);
}

function countAt(
  object: Json,
  field: string,
  fallback: number,
  source: string,
  where: string,
): number {
  const value = object[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    fail(source, `error unmarshaling JSON: ${where}.${field} must be a non-negative integer`);
  return value;
}

function taintsOf(value: unknown, source: string, where: string): Taint[] {
  if (value === undefined) return [];
  // Self-managed groups also accept eksctl's older map form: `key: value:Effect`.
  const entries: Json[] = Array.isArray(value)
    ? (value as Json[])
    : Object.entries(objectAt(value, source, `${where}.taints`)).map(([key, text]) => {
        const [taintValue = '', effect = ''] = String(text).split(':');
        return { key, value: taintValue, effect };
      });
  return entries.map((taint, index) => {
    const key = typeof taint.key === 'string' ? taint.key : '';
    const effect = typeof taint.effect === 'string' ? taint.effect : '';
    if (!key) fail(source, `${where}.taints[${index}].key must be set`);
    if (!effects.includes(effect))
      fail(
        source,
        `invalid taint effect: ${JSON.stringify(effect)} for taint key "${key}" (valid effects: NoSchedule, PreferNoSchedule, NoExecute)`,
      );
    return {
      key,
      value: typeof taint.value === 'string' ? taint.value : '',
      effect: effect as Taint['effect'],
    };
  });
}

function nodeGroupOf(
  value: unknown,
  managed: boolean,
  index: number,
  source: string,
): NodeGroupConfig {
  const where = `${managed ? 'managedNodeGroups' : 'nodeGroups'}[${index}]`;
  const group = objectAt(value, source, where);
  checkFields(group, nodeGroupFields, source);
  const name = stringAt(group, 'name', '', source, where);
  if (!name) fail(source, `${where}.name must be set`);
  if (!namePattern.test(name))
    fail(
      source,
      `validation for ${where}.name "${name}" failed: it must start with a letter and contain only letters, digits and hyphens`,
    );
  const instanceType = stringAt(group, 'instanceType', 'm5.large', source, where);
  if (!instanceTypeLimits(instanceType))
    fail(source, `${where}: unknown instance type "${instanceType}"`);
  const desiredCapacity = countAt(group, 'desiredCapacity', 2, source, where);
  const minSize = countAt(group, 'minSize', Math.min(desiredCapacity, 2), source, where);
  const maxSize = countAt(group, 'maxSize', Math.max(desiredCapacity, 2), source, where);
  if (minSize > desiredCapacity || desiredCapacity > maxSize)
    fail(
      source,
      `${where}: cannot use --nodes=${desiredCapacity} with --nodes-min=${minSize} and --nodes-max=${maxSize}: the desired capacity must lie between the minimum and the maximum`,
    );
  const labels = objectAt(group.labels, source, `${where}.labels`);
  return {
    name,
    managed,
    instanceType,
    desiredCapacity,
    minSize,
    maxSize,
    labels: Object.fromEntries(Object.entries(labels).map(([key, label]) => [key, String(label)])),
    taints: taintsOf(group.taints, source, where),
  };
}

/** A parsed `ClusterConfig` document, checked and defaulted; `source` names it in errors. */
export function clusterConfigFrom(document: unknown, source: string): ClusterConfig {
  const root = objectAt(document, source, 'the document');
  checkFields(root, topLevelFields, source);
  if (root.apiVersion !== 'eksctl.io/v1alpha5')
    fail(
      source,
      `unsupported apiVersion ${JSON.stringify(root.apiVersion ?? '')}, expected "eksctl.io/v1alpha5"`,
    );
  if (root.kind !== 'ClusterConfig')
    fail(source, `unsupported kind ${JSON.stringify(root.kind ?? '')}, expected "ClusterConfig"`);
  const metadata = objectAt(root.metadata, source, 'metadata');
  checkFields(metadata, metadataFields, source);
  const name = stringAt(metadata, 'name', '', source, 'metadata');
  if (!name) fail(source, 'metadata.name must be set');
  if (!namePattern.test(name) || name.length > 100)
    fail(
      source,
      `validation for metadata.name "${name}" failed: it must start with a letter and contain only letters, digits and hyphens (at most 100)`,
    );
  const region = stringAt(metadata, 'region', workshopClusterConfig.region, source, 'metadata');
  const vpc = objectAt(root.vpc, source, 'vpc');
  const vpcCidr = stringAt(vpc, 'cidr', workshopClusterConfig.vpcCidr, source, 'vpc');
  const parsed = parseCidr(vpcCidr);
  if (
    !parsed ||
    parsed.cidr.family !== 4 ||
    parsed.cidr.prefixLength < 16 ||
    parsed.cidr.prefixLength > 24
  )
    fail(source, `vpc.cidr "${vpcCidr}" must be an IPv4 CIDR between /16 and /24`);
  const groups = [
    ...asList(root.managedNodeGroups, source, 'managedNodeGroups').map((group, index) =>
      nodeGroupOf(group, true, index, source),
    ),
    ...asList(root.nodeGroups, source, 'nodeGroups').map((group, index) =>
      nodeGroupOf(group, false, index, source),
    ),
  ];
  const seen = new Set<string>();
  for (const group of groups) {
    if (seen.has(group.name))
      fail(source, `node group names must be unique: "${group.name}" is used twice`);
    seen.add(group.name);
  }
  return {
    name,
    region,
    version: stringAt(metadata, 'version', workshopClusterConfig.version, source, 'metadata'),
    vpcCidr: parsed.cidr.text,
    nodeGroups: groups,
  };
}

function asList(value: unknown, source: string, field: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(source, `error unmarshaling JSON: ${field} must be a list`);
  return value;
}
