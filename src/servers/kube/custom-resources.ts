/**
 * CustomResourceDefinitions (apiextensions.k8s.io/v1): their defaulting and validation, the
 * status the server gives them (names accepted, established, stored versions), and the resource
 * types their served versions add to discovery and routing.
 */
import type { FieldError } from '../../core/errors.js';
import { invalidValue, requiredValue } from '../../core/kube/label-validation.js';
import type { CustomResourceTraits, PrinterColumn, ResourceType } from './kube-resources.js';
import { kubeTimestamp, type KubeObject } from './storage/kube-store.js';
import { CustomResourceSchema, type JsonSchema } from './structural-schema.js';

interface CrdNames {
  plural?: string;
  singular?: string;
  kind?: string;
  listKind?: string;
  shortNames?: string[];
  categories?: string[];
}

interface CrdVersion {
  name?: string;
  served?: boolean;
  storage?: boolean;
  schema?: { openAPIV3Schema?: JsonSchema };
  subresources?: { status?: object; scale?: object };
  additionalPrinterColumns?: {
    name?: string;
    type?: string;
    format?: string;
    description?: string;
    priority?: number;
    jsonPath?: string;
  }[];
}

interface CrdSpec {
  group?: string;
  names?: CrdNames;
  scope?: string;
  versions?: CrdVersion[];
  conversion?: { strategy?: string };
}

function specOf(crd: KubeObject): CrdSpec {
  return crd.spec ?? {};
}

const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** apiextensions' defaults: singular and listKind from the kind, conversion None. */
export function defaultedCrd(crd: KubeObject): KubeObject {
  const spec = specOf(crd);
  const names = spec.names ?? {};
  return {
    ...crd,
    spec: {
      ...spec,
      names: {
        ...names,
        ...(names.kind && !names.singular ? { singular: names.kind.toLowerCase() } : {}),
        ...(names.kind && !names.listKind ? { listKind: `${names.kind}List` } : {}),
      },
      conversion: spec.conversion ?? { strategy: 'None' },
    },
  };
}

/** A required string that must match a pattern. */
function checkedName(
  value: string | undefined,
  field: string,
  valid: (value: string) => boolean,
  detail: string,
): FieldError[] {
  if (!value) return [requiredValue(field)];
  return valid(value) ? [] : [invalidValue(field, value, detail)];
}

function validateNames(crd: KubeObject, spec: CrdSpec): FieldError[] {
  const names = spec.names ?? {};
  const errors = [
    ...checkedName(
      spec.group,
      'spec.group',
      (group) => dns1123Subdomain.test(group) && group.includes('.'),
      'should be a domain with at least one dot',
    ),
    ...checkedName(
      names.plural,
      'spec.names.plural',
      (plural) => dns1035Label.test(plural),
      'a lowercase RFC 1123 label',
    ),
    ...checkedName(names.kind, 'spec.names.kind', () => true, ''),
  ];
  const expected = `${names.plural ?? ''}.${spec.group ?? ''}`;
  if (names.plural && spec.group && crd.metadata?.name !== expected) {
    errors.push(
      invalidValue(
        'metadata.name',
        crd.metadata?.name ?? '',
        `must be spec.names.plural+"."+spec.group`,
      ),
    );
  }
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster') {
    errors.push({
      field: 'spec.scope',
      type: 'FieldValueNotSupported',
      message: `spec.scope: Unsupported value: ${JSON.stringify(spec.scope ?? '')}: supported values: "Cluster", "Namespaced"`,
    });
  }
  return errors;
}

function validateVersion(version: CrdVersion, index: number): FieldError[] {
  const field = `spec.versions[${index}]`;
  const errors: FieldError[] = [];
  if (!version.name) errors.push(requiredValue(`${field}.name`));
  const schema = version.schema?.openAPIV3Schema;
  if (!schema) {
    errors.push(requiredValue(`${field}.schema.openAPIV3Schema`, 'schemas are required'));
    return errors;
  }
  if (schema.type !== 'object') {
    errors.push(
      invalidValue(
        `${field}.schema.openAPIV3Schema.type`,
        schema.type ?? '',
        'must be object at the root',
      ),
    );
  }
  try {
    new CustomResourceSchema(schema);
  } catch (error) {
    errors.push(
      invalidValue(
        `${field}.schema.openAPIV3Schema`,
        '',
        error instanceof Error ? error.message : String(error),
      ),
    );
  }
  return errors;
}

/** The CRD's field errors (empty when it can be served). */
export function validateCrd(crd: KubeObject): FieldError[] {
  const spec = specOf(crd);
  const errors = validateNames(crd, spec);
  const versions = spec.versions ?? [];
  if (versions.length === 0)
    errors.push(requiredValue('spec.versions', 'must have at least one version'));
  const storage = versions.filter((version) => version.storage === true).length;
  if (versions.length > 0 && storage !== 1) {
    errors.push(
      invalidValue(
        'spec.versions',
        versions.map((version) => version.name),
        'must have exactly one version marked as storage version',
      ),
    );
  }
  versions.forEach((version, index) => errors.push(...validateVersion(version, index)));
  return errors;
}

/** The status the server keeps: names accepted, established, the stored versions. */
export function crdStatus(crd: KubeObject, previous?: KubeObject): Record<string, unknown> {
  const spec = specOf(crd);
  const now = kubeTimestamp();
  const stored = new Set<string>(
    (previous?.status as { storedVersions?: string[] } | undefined)?.storedVersions ?? [],
  );
  const storage = spec.versions?.find((version) => version.storage)?.name;
  if (storage) stored.add(storage);
  const condition = (type: string, reason: string, message: string) => ({
    type,
    status: 'True',
    lastTransitionTime: now,
    reason,
    message,
  });
  return {
    acceptedNames: spec.names ?? {},
    conditions: [
      condition('NamesAccepted', 'NoConflicts', 'no conflicts found'),
      condition('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
    ],
    storedVersions: [...stored],
  };
}

function printerColumnsOf(version: CrdVersion): PrinterColumn[] {
  const columns = version.additionalPrinterColumns;
  if (!columns || columns.length === 0) {
    return [
      {
        name: 'Age',
        type: 'date',
        priority: 0,
        jsonPath: '.metadata.creationTimestamp',
        description:
          'CreationTimestamp is a timestamp representing the server time when this object was created.',
      },
    ];
  }
  return columns.map((column) => ({
    name: column.name ?? '',
    type: column.type ?? 'string',
    ...(column.format ? { format: column.format } : {}),
    ...(column.description ? { description: column.description } : {}),
    priority: column.priority ?? 0,
    jsonPath: column.jsonPath ?? '',
  }));
}

/** The names with apiextensions' defaults filled in. */
function completeNames(
  names: CrdNames,
): Required<Omit<CrdNames, 'shortNames' | 'categories'>> &
  Pick<CrdNames, 'shortNames' | 'categories'> {
  const kind = names.kind ?? '';
  return {
    ...names,
    plural: names.plural ?? '',
    kind,
    singular: names.singular ?? kind.toLowerCase(),
    listKind: names.listKind ?? `${kind}List`,
  };
}

function resourceTypeOf(crd: KubeObject, spec: CrdSpec, version: CrdVersion): ResourceType {
  const names = completeNames(spec.names ?? {});
  return {
    group: spec.group ?? '',
    version: version.name ?? '',
    resource: names.plural,
    singular: names.singular,
    kind: names.kind,
    listKind: names.listKind,
    namespaced: spec.scope === 'Namespaced',
    ...(names.shortNames?.length ? { shortNames: names.shortNames } : {}),
    ...(names.categories?.length ? { categories: names.categories } : {}),
    subresources: version.subresources?.status ? ['status'] : [],
    custom: traitsOf(crd, spec, version),
  };
}

function traitsOf(crd: KubeObject, spec: CrdSpec, version: CrdVersion): CustomResourceTraits {
  return {
    crdName: crd.metadata?.name ?? '',
    schema: new CustomResourceSchema(version.schema?.openAPIV3Schema ?? { type: 'object' }),
    printerColumns: printerColumnsOf(version),
    storageVersion: spec.versions?.find((candidate) => candidate.storage)?.name ?? '',
  };
}

/** The resource types a (valid) CRD serves: one per served version. */
export function resourceTypesOf(crd: KubeObject): ResourceType[] {
  const spec = specOf(crd);
  return (spec.versions ?? [])
    .filter((version) => version.served !== false && version.schema?.openAPIV3Schema)
    .map((version) => resourceTypeOf(crd, spec, version));
}
