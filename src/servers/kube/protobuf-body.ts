/**
 * Kubernetes' protobuf request bodies, for the kinds `kubectl create namespace|secret|configmap`
 * send that way (client-go's typed clients prefer protobuf, and a 415 is not retried as JSON).
 * The envelope is `k8s\0` + runtime.Unknown{1: TypeMeta{1 apiVersion, 2 kind}, 2: raw object};
 * the objects are decoded from the published field numbers (k8s.io/api generated.proto) into the
 * JSON shape the rest of the server handles. Anything else is refused with 415.
 */
import { KubeStatusError } from '../../core/errors.js';
import type { KubeObject } from './storage/kube-store.js';

export const protobufMediaType = 'application/vnd.kubernetes.protobuf';
const magic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type FieldValue = bigint | Buffer;

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
function readMessage(bytes: Buffer): Map<number, FieldValue[]> {
  const fields = new Map<number, FieldValue[]>();
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

function bytesOf(fields: Map<number, FieldValue[]>, field: number): Buffer | undefined {
  const value = fields.get(field)?.at(-1);
  return Buffer.isBuffer(value) ? value : undefined;
}

function stringOf(fields: Map<number, FieldValue[]>, field: number): string | undefined {
  return bytesOf(fields, field)?.toString('utf8');
}

/** A `map<string, string|bytes>` field: repeated entries {1: key, 2: value}. */
function mapOf(
  fields: Map<number, FieldValue[]>,
  field: number,
  encode: (value: Buffer) => string,
): Record<string, string> | undefined {
  const entries = (fields.get(field) ?? []).filter((value) => Buffer.isBuffer(value));
  if (entries.length === 0) return undefined;
  return Object.fromEntries(
    entries.map((entry) => {
      const pair = readMessage(entry);
      return [stringOf(pair, 1) ?? '', encode(bytesOf(pair, 2) ?? Buffer.alloc(0))];
    }),
  );
}

const text = (value: Buffer) => value.toString('utf8');
const base64 = (value: Buffer) => value.toString('base64');

function metadataOf(bytes: Buffer | undefined): Record<string, unknown> {
  if (!bytes) return {};
  const fields = readMessage(bytes);
  const metadata: Record<string, unknown> = {
    name: stringOf(fields, 1),
    generateName: stringOf(fields, 2),
    namespace: stringOf(fields, 3),
    labels: mapOf(fields, 11, text),
    annotations: mapOf(fields, 12, text),
  };
  return Object.fromEntries(Object.entries(metadata).filter(([, value]) => value !== undefined));
}

function withoutUndefined(object: Record<string, unknown>): KubeObject {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}

const decoders: Readonly<
  Record<string, (fields: Map<number, FieldValue[]>) => Record<string, unknown>>
> = {
  Namespace: () => ({}),
  Secret: (fields) => ({
    data: mapOf(fields, 2, base64),
    type: stringOf(fields, 3) || undefined,
    stringData: mapOf(fields, 4, text),
  }),
  ConfigMap: (fields) => ({
    data: mapOf(fields, 2, text),
    binaryData: mapOf(fields, 3, base64),
  }),
};

/** Decodes a protobuf body into the JSON object it carries, or refuses it with 415/400. */
export function decodeProtobufBody(body: Buffer): KubeObject {
  if (body.length < magic.length || !body.subarray(0, magic.length).equals(magic)) {
    throw malformed();
  }
  const unknown = readMessage(body.subarray(magic.length));
  const typeMeta = readMessage(bytesOf(unknown, 1) ?? Buffer.alloc(0));
  const apiVersion = stringOf(typeMeta, 1) ?? '';
  const kind = stringOf(typeMeta, 2) ?? '';
  const decode = decoders[kind];
  if (!decode) {
    throw new KubeStatusError(
      'UnsupportedMediaType',
      415,
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (protobuf is accepted for Namespace, Secret and ConfigMap only, not ${kind || 'this object'})`,
    );
  }
  const object = readMessage(bytesOf(unknown, 2) ?? Buffer.alloc(0));
  return withoutUndefined({
    apiVersion: apiVersion || 'v1',
    kind,
    metadata: metadataOf(bytesOf(object, 1)),
    ...decode(object),
  });
}
