/**
 * A custom resource's structural schema (a CRD version's `openAPIV3Schema`), applied as the
 * apiserver does on every write: prune the fields the schema does not know (unless
 * `x-kubernetes-preserve-unknown-fields`), fill `default`s, then validate — ajv does the
 * validating and defaulting; its errors are rendered as apiserver's field errors
 * (`spec.securityGroups.groupIds: Invalid value: 0: … should have at least 1 items`).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { FieldError } from '../../core/errors.js';

export interface JsonSchema {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly additionalProperties?: JsonSchema | boolean;
  readonly items?: JsonSchema;
  readonly 'x-kubernetes-preserve-unknown-fields'?: boolean;
  readonly 'x-kubernetes-embedded-resource'?: boolean;
  readonly [keyword: string]: unknown;
}

const ajv = new Ajv({
  strict: false,
  allErrors: true,
  useDefaults: true,
  validateFormats: false,
  verbose: true,
  logger: false,
});

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `/spec/containers/0/name` → `spec.containers[0].name`. */
function fieldPathOf(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce(
      (path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part),
      '',
    );
}

function typeNameOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function shown(value: unknown): string {
  return typeof value === 'object' && value !== null ? typeNameOf(value) : JSON.stringify(value);
}

/** apiserver's "<field> in body …" wording of the remaining keywords. */
const bodyDetails: Readonly<Record<string, (params: Record<string, unknown>) => string>> = {
  minLength: (params) => `should be at least ${String(params.limit)} chars long`,
  maxLength: (params) => `should be at most ${String(params.limit)} chars long`,
  pattern: (params) => `should match '${String(params.pattern)}'`,
};

const comparisons: Readonly<Record<string, string>> = {
  '>=': 'greater than or equal to',
  '<=': 'less than or equal to',
  '>': 'greater than',
  '<': 'less than',
};

function comparisonText(comparison: string): string {
  return comparisons[comparison] ?? comparison;
}

/** One ajv error as apiserver's wording for the same failure. */
function fieldErrorOf(error: ErrorObject): FieldError {
  const base = fieldPathOf(error.instancePath);
  const params = error.params as Record<string, unknown>;
  const data: unknown = error.data;
  const field = (name: string) => (base ? `${base}.${name}` : name);
  const invalidWith = (detail: string): FieldError => ({
    field: base,
    type: 'FieldValueInvalid',
    message: `${base}: Invalid value: ${shown(data)}: ${base} in body ${detail}`,
  });
  switch (error.keyword) {
    case 'required': {
      const missing = field(String(params.missingProperty));
      return { field: missing, type: 'FieldValueRequired', message: `${missing}: Required value` };
    }
    case 'type':
      return {
        field: base,
        type: 'FieldValueTypeInvalid',
        message: `${base}: Invalid value: "${typeNameOf(data)}": ${base} in body must be of type ${String(params.type)}: "${typeNameOf(data)}"`,
      };
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((value) => JSON.stringify(value));
      return {
        field: base,
        type: 'FieldValueNotSupported',
        message: `${base}: Unsupported value: ${JSON.stringify(data)}: supported values: ${allowed.join(', ')}`,
      };
    }
    case 'minItems':
      return {
        field: base,
        type: 'FieldValueInvalid',
        message: `${base}: Invalid value: ${Array.isArray(data) ? data.length : 0}: ${base} in body should have at least ${String(params.limit)} items`,
      };
    case 'maxItems':
      return {
        field: base,
        type: 'FieldValueTooMany',
        message: `${base}: Too many: ${Array.isArray(data) ? data.length : 0}: must have at most ${String(params.limit)} items`,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return invalidWith(
        `should be ${comparisonText(String(params.comparison))} ${String(params.limit)}`,
      );
    default:
      return invalidWith(
        bodyDetails[error.keyword]?.(params) ?? error.message ?? `failed ${error.keyword}`,
      );
  }
}

export class CustomResourceSchema {
  readonly #validate: ValidateFunction;

  /** Throws when ajv cannot compile the schema (the CRD is then invalid). */
  constructor(readonly schema: JsonSchema) {
    this.#validate = ajv.compile(withoutMetadataSchema(schema));
  }

  /**
   * A copy without the fields the schema does not know, and the paths of those it dropped
   * (`fieldValidation=Strict` refuses them; `Warn` names them in a Warning header).
   */
  prune(object: Json): { pruned: Json; unknownFields: string[] } {
    const unknownFields: string[] = [];
    const pruned = pruneValue(object, this.schema, '', unknownFields, true) as Json;
    return { pruned, unknownFields };
  }

  /** Fills defaults into `object` (in place) and returns its field errors. */
  defaultAndValidate(object: Json): FieldError[] {
    if (this.#validate(object)) return [];
    return (this.#validate.errors ?? []).map(fieldErrorOf);
  }
}

/** metadata is ObjectMeta, checked by the server itself; a schema may only say `type: object`. */
function withoutMetadataSchema(schema: JsonSchema): JsonSchema {
  if (!schema.properties?.metadata) return schema;
  return { ...schema, properties: { ...schema.properties, metadata: { type: 'object' } } };
}

const typeMetaFields = new Set(['apiVersion', 'kind', 'metadata']);

function pruneValue(
  value: unknown,
  schema: JsonSchema | undefined,
  path: string,
  unknownFields: string[],
  isResource: boolean,
): unknown {
  if (!schema) return value;
  if (Array.isArray(value)) {
    return value.map((item, index) =>
      pruneValue(item, schema.items, `${path}[${index}]`, unknownFields, false),
    );
  }
  return isObject(value) ? pruneObject(value, schema, path, unknownFields, isResource) : value;
}

function pruneObject(
  value: Json,
  schema: JsonSchema,
  path: string,
  unknownFields: string[],
  isResource: boolean,
): Json {
  const keepUnknown =
    schema['x-kubernetes-preserve-unknown-fields'] === true || schema.additionalProperties === true;
  const embedded = isResource || schema['x-kubernetes-embedded-resource'] === true;
  const additional =
    typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  const result: Json = {};
  for (const [key, child] of Object.entries(value)) {
    const childPath = path ? `${path}.${key}` : key;
    const childSchema = schema.properties?.[key] ?? additional;
    if (embedded && typeMetaFields.has(key)) result[key] = child;
    else if (childSchema) {
      result[key] = pruneValue(child, childSchema, childPath, unknownFields, false);
    } else if (keepUnknown) result[key] = child;
    else unknownFields.push(childPath);
  }
  return result;
}
