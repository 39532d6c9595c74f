/**
 * `components.schemas` of the OpenAPI v3 documents, so `kubectl explain` works: custom
 * resources get their CRD version's schema (with the upstream descriptions); built-in kinds get
 * schemas built from @kubernetes/client-node's models (field names, types, formats — the
 * generated types of the Kubernetes API, without their prose), loaded on first use. Each kind's
 * schema carries `x-kubernetes-group-version-kind`, which is how kubectl finds it.
 */
import type { ResourceType } from './kube-resources.js';
import type { JsonSchema } from './structural-schema.js';

type Schema = Record<string, unknown>;

interface AttributeType {
  readonly name: string;
  readonly baseName: string;
  readonly type: string;
  readonly format: string;
}

type Models = Record<string, { getAttributeTypeMap?: () => AttributeType[] } | undefined>;

let models: Promise<Models> | undefined;

function loadModels(): Promise<Models> {
  models ??= import('@kubernetes/client-node').then((module) => module as unknown as Models);
  return models;
}

const objectMetaName = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

/** `V1DeploymentSpec` → `DeploymentSpec`: the type name kubectl explain shows. */
function shortName(model: string): string {
  return model.replace(/^(?:[A-Z][a-z]+)?V\d+(?:alpha\d+|beta\d+)?/, '') || model;
}

function schemaName(model: string): string {
  return model === 'V1ObjectMeta' ? objectMetaName : `io.k8s.sgpods.${model}.${shortName(model)}`;
}

/** The schema of a TypeScript scalar type of the models, or undefined for a model. */
function scalarSchema(type: string, format: string): Schema | undefined {
  const withFormat = format ? { format } : {};
  const scalars: Readonly<Record<string, Schema>> = {
    string: { type: 'string', ...withFormat },
    number: format.startsWith('int')
      ? { type: 'integer', format }
      : { type: 'number', ...withFormat },
    boolean: { type: 'boolean' },
    Date: { type: 'string', format: 'date-time' },
    IntOrString: { 'x-kubernetes-int-or-string': true },
    any: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    object: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
  };
  return scalars[type];
}

class SchemaBuilder {
  readonly schemas: Record<string, Schema> = {};

  constructor(private readonly models: Models) {}

  typeSchema(type: string, format: string): Schema {
    const array = /^Array<(.+)>$/.exec(type);
    if (array?.[1]) return { type: 'array', items: this.typeSchema(array[1], '') };
    const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
    if (map?.[1]) return { type: 'object', additionalProperties: this.typeSchema(map[1], '') };
    const scalar = scalarSchema(type, format);
    if (scalar) return scalar;
    return this.model(type)
      ? { allOf: [{ $ref: `#/components/schemas/${schemaName(type)}` }] }
      : { type: 'object' };
  }

  /** Adds a model (and everything it refers to) to the schemas; false when unknown. */
  model(model: string, extra: Schema = {}): boolean {
    const name = schemaName(model);
    if (this.schemas[name]) {
      Object.assign(this.schemas[name], extra);
      return true;
    }
    const attributes = this.models[model]?.getAttributeTypeMap?.();
    if (!attributes) return false;
    const schema: Schema = { type: 'object', properties: {}, ...extra };
    this.schemas[name] = schema;
    const properties: Record<string, Schema> = {};
    for (const attribute of attributes) {
      properties[attribute.baseName] = this.typeSchema(attribute.type, attribute.format);
    }
    schema.properties = properties;
    return true;
  }
}

function gvkOf(type: ResourceType): Schema {
  return {
    'x-kubernetes-group-version-kind': [
      { group: type.group, kind: type.kind, version: type.version },
    ],
  };
}

/** The model name of a built-in kind in @kubernetes/client-node. */
function builtinModel(type: ResourceType, available: Models): string | undefined {
  const prefix = type.group === 'events.k8s.io' ? 'EventsV1' : type.group === '' ? 'CoreV1' : '';
  return [`${prefix}${type.kind}`, `V1${type.kind}`, `CoreV1${type.kind}`].find(
    (candidate) => available[candidate]?.getAttributeTypeMap,
  );
}

/** A CRD's schema, with metadata pointing at ObjectMeta as the real apiserver publishes it. */
function customSchema(type: ResourceType, schema: JsonSchema): Schema {
  return {
    ...structuredClone(schema),
    properties: {
      ...schema.properties,
      metadata: { allOf: [{ $ref: `#/components/schemas/${objectMetaName}` }] },
    },
    ...gvkOf(type),
  };
}

function customName(type: ResourceType): string {
  return `${type.group.split('.').reverse().join('.')}.${type.version}.${type.kind}`;
}

/** The component schemas of one group version's kinds. */
export async function componentSchemas(
  types: readonly ResourceType[],
): Promise<Record<string, Schema>> {
  const available = await loadModels();
  const builder = new SchemaBuilder(available);
  builder.model('V1ObjectMeta');
  for (const type of types) {
    if (type.custom) {
      builder.schemas[customName(type)] = customSchema(type, type.custom.schema.schema);
      continue;
    }
    const model = builtinModel(type, available);
    if (model) builder.model(model, gvkOf(type));
  }
  return builder.schemas;
}
