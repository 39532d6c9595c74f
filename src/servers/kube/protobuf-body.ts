/**
 * Kubernetes' protobuf request bodies, for the kinds `kubectl create namespace|secret|configmap|
 * deployment|service|serviceaccount|token|role|rolebinding|…` and `kubectl auth` send that way (client-go's typed clients prefer protobuf, and a 415 is not retried
 * as JSON). The envelope is `k8s\0` + runtime.Unknown{1: TypeMeta{1 apiVersion, 2 kind}, 2: raw};
 * the objects are decoded from the published field numbers (k8s.io/api `generated.proto`),
 * described as data below, into the JSON shape the rest of the server handles. Go's zero values
 * (always on the wire for non-pointer fields) are dropped as JSON's `omitempty` would. Anything
 * else is refused with 415.
 */
import { KubeStatusError } from '../../core/errors.js';
import type { KubeObject } from './storage/kube-store.js';

export const protobufMediaType = 'application/vnd.kubernetes.protobuf';
const magic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type FieldValue = bigint | Buffer;
type Fields = Map<number, FieldValue[]>;

/** How one field decodes: a scalar, a nested message, or a map with string keys. */
type FieldSpec =
  | {
      readonly name: string;
      readonly kind: 'string' | 'int' | 'bool' | 'intOrString' | 'quantity';
      readonly repeated?: boolean;
      /** A pointer field in Go: present means set, even when zero (`replicas: 0`). */
      readonly keepZero?: boolean;
    }
  | {
      readonly name: string;
      readonly kind: 'message';
      readonly message: MessageSpec;
      readonly repeated?: boolean;
    }
  | {
      readonly name: string;
      readonly kind: 'map';
      readonly value: 'string' | 'bytes' | 'quantity';
    };

type MessageSpec = Readonly<Record<number, FieldSpec>>;

const str = (name: string): FieldSpec => ({ name, kind: 'string' });
const strings = (name: string): FieldSpec => ({ name, kind: 'string', repeated: true });
const int = (name: string, keepZero = false): FieldSpec => ({ name, kind: 'int', keepZero });
const bool = (name: string): FieldSpec => ({ name, kind: 'bool' });
const message = (name: string, spec: MessageSpec, repeated = false): FieldSpec => ({
  name,
  kind: 'message',
  message: spec,
  repeated,
});
const stringMap = (name: string): FieldSpec => ({ name, kind: 'map', value: 'string' });

const ownerReference: MessageSpec = {
  1: str('kind'),
  3: str('name'),
  4: str('uid'),
  5: str('apiVersion'),
  6: { name: 'controller', kind: 'bool', keepZero: true },
  7: { name: 'blockOwnerDeletion', kind: 'bool', keepZero: true },
};
const objectMeta: MessageSpec = {
  1: str('name'),
  2: str('generateName'),
  3: str('namespace'),
  11: stringMap('labels'),
  12: stringMap('annotations'),
  13: message('ownerReferences', ownerReference, true),
  14: strings('finalizers'),
};
const labelSelector: MessageSpec = {
  1: stringMap('matchLabels'),
  2: message('matchExpressions', { 1: str('key'), 2: str('operator'), 3: strings('values') }, true),
};
const resources: MessageSpec = {
  1: { name: 'limits', kind: 'map', value: 'quantity' },
  2: { name: 'requests', kind: 'map', value: 'quantity' },
};
const keySelector: MessageSpec = {
  // An embedded LocalObjectReference: inlined in JSON (an empty name means "inline").
  1: message('', { 1: str('name') }),
  2: str('key'),
  3: { name: 'optional', kind: 'bool', keepZero: true },
};
const container: MessageSpec = {
  1: str('name'),
  2: str('image'),
  3: strings('command'),
  4: strings('args'),
  5: str('workingDir'),
  6: message(
    'ports',
    { 1: str('name'), 2: int('hostPort'), 3: int('containerPort'), 4: str('protocol') },
    true,
  ),
  7: message(
    'env',
    {
      1: str('name'),
      2: str('value'),
      3: message('valueFrom', {
        3: message('configMapKeyRef', keySelector),
        4: message('secretKeyRef', keySelector),
      }),
    },
    true,
  ),
  8: message('resources', resources),
  13: str('terminationMessagePath'),
  14: str('imagePullPolicy'),
  16: bool('stdin'),
  18: bool('tty'),
  20: str('terminationMessagePolicy'),
};
const podSpec: MessageSpec = {
  2: message('containers', container, true),
  3: str('restartPolicy'),
  4: int('terminationGracePeriodSeconds', true),
  6: str('dnsPolicy'),
  7: stringMap('nodeSelector'),
  8: str('serviceAccountName'),
  10: str('nodeName'),
  11: bool('hostNetwork'),
  19: str('schedulerName'),
  20: message('initContainers', container, true),
};
const intOrString: FieldSpec = { name: '', kind: 'intOrString' };
const deploymentSpec: MessageSpec = {
  1: int('replicas', true),
  2: message('selector', labelSelector),
  3: message('template', { 1: message('metadata', objectMeta), 2: message('spec', podSpec) }),
  4: message('strategy', {
    1: str('type'),
    2: message('rollingUpdate', {
      1: { ...intOrString, name: 'maxUnavailable' },
      2: { ...intOrString, name: 'maxSurge' },
    }),
  }),
  5: int('minReadySeconds'),
  6: int('revisionHistoryLimit', true),
  7: bool('paused'),
  9: int('progressDeadlineSeconds', true),
};

const servicePort: MessageSpec = {
  1: str('name'),
  2: str('protocol'),
  3: int('port'),
  4: { ...intOrString, name: 'targetPort' },
  5: int('nodePort'),
  6: str('appProtocol'),
};
const serviceSpec: MessageSpec = {
  1: message('ports', servicePort, true),
  2: stringMap('selector'),
  3: str('clusterIP'),
  4: str('type'),
  5: strings('externalIPs'),
  7: str('sessionAffinity'),
  10: str('externalName'),
  11: str('externalTrafficPolicy'),
  13: bool('publishNotReadyAddresses'),
  17: str('ipFamilyPolicy'),
  18: strings('clusterIPs'),
  19: strings('ipFamilies'),
  22: str('internalTrafficPolicy'),
};

const policyRule: MessageSpec = {
  1: strings('verbs'),
  2: strings('apiGroups'),
  3: strings('resources'),
  4: strings('resourceNames'),
  5: strings('nonResourceURLs'),
};
const roleBinding: MessageSpec = {
  2: message(
    'subjects',
    { 1: str('kind'), 2: str('apiGroup'), 3: str('name'), 4: str('namespace') },
    true,
  ),
  3: message('roleRef', { 1: str('apiGroup'), 2: str('kind'), 3: str('name') }),
};
const objectReference: MessageSpec = { 1: str('kind'), 2: str('namespace'), 3: str('name') };

/** Top-level fields after metadata (field 1) per kind. */
const kinds: Readonly<Record<string, MessageSpec>> = {
  Namespace: {},
  Secret: {
    2: { name: 'data', kind: 'map', value: 'bytes' },
    3: str('type'),
    4: stringMap('stringData'),
    5: { name: 'immutable', kind: 'bool', keepZero: true },
  },
  ConfigMap: {
    2: stringMap('data'),
    3: { name: 'binaryData', kind: 'map', value: 'bytes' },
    4: { name: 'immutable', kind: 'bool', keepZero: true },
  },
  Deployment: { 2: message('spec', deploymentSpec) },
  Service: { 2: message('spec', serviceSpec) },
  ServiceAccount: {
    2: message('secrets', objectReference, true),
    3: message('imagePullSecrets', { 1: str('name') }, true),
    4: { name: 'automountServiceAccountToken', kind: 'bool', keepZero: true },
  },
  TokenRequest: {
    2: message('spec', {
      1: strings('audiences'),
      3: message('boundObjectRef', {
        1: str('kind'),
        2: str('apiVersion'),
        3: str('name'),
        4: str('uid'),
      }),
      4: int('expirationSeconds', true),
    }),
  },
  Role: { 2: message('rules', policyRule, true) },
  ClusterRole: { 2: message('rules', policyRule, true) },
  RoleBinding: roleBinding,
  ClusterRoleBinding: roleBinding,
  SelfSubjectReview: {},
  SelfSubjectAccessReview: {
    2: message('spec', {
      1: message('resourceAttributes', {
        1: str('namespace'),
        2: str('verb'),
        3: str('group'),
        4: str('version'),
        5: str('resource'),
        6: str('subresource'),
        7: str('name'),
      }),
      2: message('nonResourceAttributes', { 1: str('path'), 2: str('verb') }),
    }),
  },
};

function malformed(): KubeStatusError {
  return new KubeStatusError('BadRequest', 400, 'the protobuf request body is malformed');
}

function readVarint(bytes: Buffer, start: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  for (let index = start; index < bytes.length && shift < 70n; index++) {
    const byte = bytes[index] ?? 0;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value, next: index + 1 };
    shift += 7n;
  }
  throw malformed();
}

/** Field number → values in order (varints as bigint, length-delimited as bytes). */
function readMessage(bytes: Buffer): Fields {
  const fields: Fields = new Map();
  let offset = 0;
  while (offset < bytes.length) {
    const key = readVarint(bytes, offset);
    offset = key.next;
    const field = Number(key.value >> 3n);
    const wireType = Number(key.value & 7n);
    let value: FieldValue;
    if (wireType === 0) {
      const varint = readVarint(bytes, offset);
      value = varint.value;
      offset = varint.next;
    } else if (wireType === 2) {
      const length = readVarint(bytes, offset);
      const end = length.next + Number(length.value);
      if (end > bytes.length) throw malformed();
      value = bytes.subarray(length.next, end);
      offset = end;
    } else if (wireType === 1 || wireType === 5) {
      offset += wireType === 1 ? 8 : 4;
      continue;
    } else throw malformed();
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

function asBytes(value: FieldValue | undefined): Buffer {
  if (value === undefined) return Buffer.alloc(0);
  if (!Buffer.isBuffer(value)) throw malformed();
  return value;
}

function asInteger(value: FieldValue | undefined): number {
  if (typeof value !== 'bigint') throw malformed();
  return Number(BigInt.asIntN(64, value));
}

function stringOf(fields: Fields, field: number): string {
  return asBytes(fields.get(field)?.at(-1)).toString('utf8');
}

/** resource.Quantity is `{1: string}`; IntOrString is `{1: type, 2: int, 3: string}`. */
function scalarOf(
  spec: Exclude<FieldSpec, { kind: 'map' | 'message' }>,
  value: FieldValue,
): unknown {
  switch (spec.kind) {
    case 'string':
      return asBytes(value).toString('utf8');
    case 'int':
      return asInteger(value);
    case 'bool':
      return asInteger(value) !== 0;
    case 'quantity':
      return stringOf(readMessage(asBytes(value)), 1);
    case 'intOrString': {
      const fields = readMessage(asBytes(value));
      return asInteger(fields.get(1)?.at(-1) ?? 0n) === 1
        ? stringOf(fields, 3)
        : asInteger(fields.get(2)?.at(-1) ?? 0n);
    }
  }
}

function mapOf(spec: Extract<FieldSpec, { kind: 'map' }>, entries: FieldValue[]): unknown {
  return Object.fromEntries(
    entries.map((entry) => {
      const pair = readMessage(asBytes(entry));
      const raw = asBytes(pair.get(2)?.at(-1));
      const value =
        spec.value === 'bytes'
          ? raw.toString('base64')
          : spec.value === 'quantity'
            ? stringOf(readMessage(raw), 1)
            : raw.toString('utf8');
      return [stringOf(pair, 1), value];
    }),
  );
}

/** Go's zero values, which JSON's omitempty leaves out. */
function isZero(spec: FieldSpec, value: unknown): boolean {
  if (spec.kind !== 'message' && spec.kind !== 'map' && 'keepZero' in spec && spec.keepZero) {
    return false;
  }
  return value === '' || value === 0 || value === false;
}

function decodeMessage(bytes: Buffer, spec: MessageSpec): Record<string, unknown> {
  const fields = readMessage(bytes);
  const result: Record<string, unknown> = {};
  for (const [number, values] of fields) {
    const field = spec[number];
    if (!field) continue;
    if (field.kind === 'map') {
      result[field.name] = mapOf(field, values);
    } else if (field.kind === 'message') {
      const decoded = values.map((value) => decodeMessage(asBytes(value), field.message));
      if (field.name === '') Object.assign(result, decoded.at(-1));
      else result[field.name] = field.repeated ? decoded : decoded.at(-1);
    } else if (field.repeated) {
      result[field.name] = values.map((value) => scalarOf(field, value));
    } else {
      const value = scalarOf(field, values.at(-1) ?? 0n);
      if (!isZero(field, value)) result[field.name] = value;
    }
  }
  return result;
}

/** Decodes a protobuf body into the JSON object it carries, or refuses it with 415/400. */
export function decodeProtobufBody(body: Buffer): KubeObject {
  if (body.length < magic.length || !body.subarray(0, magic.length).equals(magic)) {
    throw malformed();
  }
  const unknown = readMessage(body.subarray(magic.length));
  const typeMeta = readMessage(asBytes(unknown.get(1)?.at(-1)));
  const apiVersion = stringOf(typeMeta, 1);
  const kind = stringOf(typeMeta, 2);
  const spec = kinds[kind];
  if (!spec) {
    throw new KubeStatusError(
      'UnsupportedMediaType',
      415,
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (protobuf is accepted for ${Object.keys(kinds).join(', ')} only, not ${kind || 'this object'})`,
    );
  }
  const object = decodeMessage(asBytes(unknown.get(2)?.at(-1)), {
    1: message('metadata', objectMeta),
    ...spec,
  });
  return { apiVersion: apiVersion || 'v1', kind, metadata: {}, ...object };
}
