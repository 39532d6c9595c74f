/**
 * Services as the API server and kube-proxy see them, pure: defaults (type ClusterIP, TCP,
 * targetPort = port, single-stack IPv4), validation worded as apiserver words it, ClusterIP
 * allocation from the service CIDR (the first address is the `kubernetes` Service's), and the
 * endpoints of a Service from its pods — the ready addresses and their resolved target ports.
 */
import type { FieldError } from '../errors.js';
import { cidrContains, nthAddress, parseCidr, parseIpAddress } from '../net/ip-address.js';
import { invalidValue, requiredValue } from './label-validation.js';

type Json = Record<string, unknown>;

const serviceTypes = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
const protocols = ['TCP', 'UDP', 'SCTP'];

function objectAt(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Json)
    : {};
}

function listAt(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(objectAt) : [];
}

export function isHeadless(spec: Json): boolean {
  return spec.clusterIP === 'None';
}

/** The spec with apiserver's defaults (what `kubectl get svc -o yaml` shows after a create). */
export function defaultedServiceSpec(value: unknown): Json {
  const spec = objectAt(value);
  const type = typeof spec.type === 'string' ? spec.type : 'ClusterIP';
  const ports = listAt(spec.ports).map((port) => ({
    protocol: 'TCP',
    ...port,
    targetPort: port.targetPort ?? port.port,
  }));
  return {
    ...spec,
    type,
    ports,
    sessionAffinity: spec.sessionAffinity ?? 'None',
    ...(type === 'ExternalName'
      ? {}
      : {
          ipFamilies: spec.ipFamilies ?? ['IPv4'],
          ipFamilyPolicy: spec.ipFamilyPolicy ?? 'SingleStack',
          internalTrafficPolicy: spec.internalTrafficPolicy ?? 'Cluster',
        }),
  };
}

function portProblems(port: Json, index: number, names: Set<string>): FieldError[] {
  const at = `spec.ports[${index}]`;
  const errors: FieldError[] = [];
  const number = port.port;
  if (number === undefined) errors.push(requiredValue(`${at}.port`));
  else if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > 65535)
    errors.push(invalidValue(`${at}.port`, number, 'must be between 1 and 65535, inclusive'));
  if (typeof port.protocol === 'string' && !protocols.includes(port.protocol)) {
    errors.push({
      field: `${at}.protocol`,
      type: 'FieldValueNotSupported',
      message: `${at}.protocol: Unsupported value: ${JSON.stringify(port.protocol)}: supported values: "SCTP", "TCP", "UDP"`,
    });
  }
  const name = typeof port.name === 'string' ? port.name : '';
  if (names.has(name)) {
    errors.push({
      field: `${at}.name`,
      type: 'FieldValueDuplicate',
      message: `${at}.name: Duplicate value: ${JSON.stringify(name)}`,
    });
  }
  names.add(name);
  return errors;
}

export function validateService(spec: Json): FieldError[] {
  const errors: FieldError[] = [];
  const type = spec.type;
  if (typeof type !== 'string' || !serviceTypes.includes(type)) {
    errors.push({
      field: 'spec.type',
      type: 'FieldValueNotSupported',
      message: `spec.type: Unsupported value: ${JSON.stringify(type)}: supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`,
    });
  }
  const ports = listAt(spec.ports);
  if (ports.length === 0 && !isHeadless(spec) && type !== 'ExternalName')
    errors.push(requiredValue('spec.ports'));
  if (ports.length > 1 && ports.some((port) => !port.name)) {
    ports.forEach((port, index) => {
      if (!port.name) errors.push(requiredValue(`spec.ports[${index}].name`));
    });
  }
  const names = new Set<string>();
  ports.forEach((port, index) => errors.push(...portProblems(port, index, names)));
  return errors;
}

export type AllocationResult =
  | { readonly ok: true; readonly clusterIp: string }
  | { readonly ok: false; readonly error: FieldError };

function allocationError(ip: string, detail: string): AllocationResult {
  return {
    ok: false,
    error: {
      field: 'spec.clusterIPs',
      type: 'FieldValueInvalid',
      message: `spec.clusterIPs: Invalid value: []string{${JSON.stringify(ip)}}: ${detail}`,
    },
  };
}

/**
 * The ClusterIP of a new Service: the one it asks for (inside the range and free), or the lowest
 * free address from the second on (the first is the `kubernetes` Service's).
 */
export function allocateClusterIp(
  requested: string | undefined,
  serviceCidr: string,
  taken: ReadonlySet<string>,
): AllocationResult {
  const range = parseCidr(serviceCidr)?.cidr;
  if (!range) throw new RangeError(`bad service CIDR ${serviceCidr}`);
  if (requested) {
    const address = parseIpAddress(requested);
    if (!address) return allocationError(requested, 'must be a valid IP address');
    if (!cidrContains(range, address))
      return allocationError(
        requested,
        `failed to allocate IP ${requested}: the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${range.text}`,
      );
    if (taken.has(address.text))
      return allocationError(
        requested,
        `failed to allocate IP ${requested}: provided IP is already allocated`,
      );
    return { ok: true, clusterIp: address.text };
  }
  const size = 2 ** (32 - range.prefixLength);
  for (let index = 2; index < size - 1; index += 1) {
    const candidate = nthAddress(range, index).text;
    if (!taken.has(candidate)) return { ok: true, clusterIp: candidate };
  }
  return allocationError('', 'failed to allocate a serviceIP: range is full');
}

/** The first address of the range: the `kubernetes` Service's ClusterIP. */
export function apiServerServiceIp(serviceCidr: string): string {
  const range = parseCidr(serviceCidr)?.cidr;
  if (!range) throw new RangeError(`bad service CIDR ${serviceCidr}`);
  return nthAddress(range, 1).text;
}

/** A Service port's target on a pod: a number, or a named container port (undefined: none). */
export function targetPortOn(servicePort: Json, podSpec: Json): number | undefined {
  const target = servicePort.targetPort ?? servicePort.port;
  if (typeof target === 'number') return target;
  if (typeof target === 'string' && /^\d+$/.test(target)) return Number(target);
  for (const container of listAt(podSpec.containers)) {
    for (const port of listAt(container.ports)) {
      if (port.name === target && typeof port.containerPort === 'number') return port.containerPort;
    }
  }
  return undefined;
}

/**
 * The Docker-links variables the kubelet gives containers for Services (`WEB_SERVICE_HOST`,
 * `WEB_SERVICE_PORT`, `WEB_PORT_80_TCP_ADDR`, …); services without a ClusterIP give none.
 */
export function serviceLinkEnv(
  services: readonly { name: string; spec: Json }[],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { name, spec } of services) {
    const ip = spec.clusterIP;
    if (typeof ip !== 'string' || ip === '' || ip === 'None') continue;
    const prefix = name.toUpperCase().replaceAll('-', '_');
    const ports = listAt(spec.ports);
    const first = ports[0];
    if (!first) continue;
    env[`${prefix}_SERVICE_HOST`] = ip;
    env[`${prefix}_SERVICE_PORT`] = String(first.port);
    for (const port of ports) {
      const protocol = (typeof port.protocol === 'string' ? port.protocol : 'TCP').toLowerCase();
      const number = String(port.port);
      if (typeof port.name === 'string' && port.name !== '')
        env[`${prefix}_SERVICE_PORT_${port.name.toUpperCase().replaceAll('-', '_')}`] = number;
      const base = `${prefix}_PORT_${number}_${protocol.toUpperCase()}`;
      env[base] = `${protocol}://${ip}:${number}`;
      env[`${base}_PROTO`] = protocol;
      env[`${base}_PORT`] = number;
      env[`${base}_ADDR`] = ip;
    }
    const firstProtocol = (
      typeof first.protocol === 'string' ? first.protocol : 'TCP'
    ).toLowerCase();
    env[`${prefix}_PORT`] = `${firstProtocol}://${ip}:${String(first.port)}`;
  }
  return env;
}
