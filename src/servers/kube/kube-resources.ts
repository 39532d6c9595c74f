/**
 * The resources the API server serves: group, version, plural name, kind, scope, short names and
 * verbs — what discovery advertises and what routing resolves a URL to. Custom resources join
 * the built-ins from their CRDs (custom-resources.ts) and leave with them.
 */
import type { CustomResourceSchema } from './structural-schema.js';

/** A CRD `additionalPrinterColumns` entry (built-in kinds have their columns in tables.ts). */
export interface PrinterColumn {
  readonly name: string;
  readonly type: string;
  readonly format?: string;
  readonly description?: string;
  readonly priority: number;
  readonly jsonPath: string;
}

/** What a custom resource's CRD says beyond names: its schema, columns and storage. */
export interface CustomResourceTraits {
  readonly crdName: string;
  readonly schema: CustomResourceSchema;
  readonly printerColumns: readonly PrinterColumn[];
  /** The version objects are stored in (others are served by rewriting `apiVersion`). */
  readonly storageVersion: string;
}

export interface ResourceType {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  /** The plural, lower case (`pods`). */
  readonly resource: string;
  readonly singular: string;
  readonly kind: string;
  /** `<Kind>List` unless a CRD says otherwise. */
  readonly listKind?: string;
  readonly namespaced: boolean;
  readonly shortNames?: readonly string[];
  readonly categories?: readonly string[];
  readonly subresources?: readonly string[];
  /** Verbs, when not the standard set (a review that is only ever created, never stored). */
  readonly verbs?: readonly string[];
  readonly custom?: CustomResourceTraits;
}

export const standardVerbs = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
] as const;

export const builtinResources: readonly ResourceType[] = [
  {
    group: '',
    version: 'v1',
    resource: 'namespaces',
    singular: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    shortNames: ['ns'],
    subresources: ['status'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'nodes',
    singular: 'node',
    kind: 'Node',
    namespaced: false,
    shortNames: ['no'],
    subresources: ['status'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'pods',
    singular: 'pod',
    kind: 'Pod',
    namespaced: true,
    shortNames: ['po'],
    categories: ['all'],
    subresources: ['status', 'log', 'binding'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'services',
    singular: 'service',
    kind: 'Service',
    namespaced: true,
    shortNames: ['svc'],
    categories: ['all'],
    subresources: ['status'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'endpoints',
    singular: 'endpoints',
    kind: 'Endpoints',
    namespaced: true,
    shortNames: ['ep'],
  },
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    resource: 'endpointslices',
    singular: 'endpointslice',
    kind: 'EndpointSlice',
    namespaced: true,
  },
  {
    group: '',
    version: 'v1',
    resource: 'serviceaccounts',
    singular: 'serviceaccount',
    kind: 'ServiceAccount',
    namespaced: true,
    shortNames: ['sa'],
    subresources: ['token'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'secrets',
    singular: 'secret',
    kind: 'Secret',
    namespaced: true,
  },
  {
    group: '',
    version: 'v1',
    resource: 'configmaps',
    singular: 'configmap',
    kind: 'ConfigMap',
    namespaced: true,
    shortNames: ['cm'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'events',
    singular: 'event',
    kind: 'Event',
    namespaced: true,
    shortNames: ['ev'],
  },
  {
    group: 'events.k8s.io',
    version: 'v1',
    resource: 'events',
    singular: 'event',
    kind: 'Event',
    namespaced: true,
    shortNames: ['ev'],
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    singular: 'deployment',
    kind: 'Deployment',
    namespaced: true,
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: ['status', 'scale'],
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'replicasets',
    singular: 'replicaset',
    kind: 'ReplicaSet',
    namespaced: true,
    shortNames: ['rs'],
    categories: ['all'],
    subresources: ['status', 'scale'],
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'daemonsets',
    singular: 'daemonset',
    kind: 'DaemonSet',
    namespaced: true,
    shortNames: ['ds'],
    categories: ['all'],
    subresources: ['status'],
  },
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    resource: 'leases',
    singular: 'lease',
    kind: 'Lease',
    namespaced: true,
  },
  ...(
    [
      ['roles', 'role', 'Role', true],
      ['clusterroles', 'clusterrole', 'ClusterRole', false],
      ['rolebindings', 'rolebinding', 'RoleBinding', true],
      ['clusterrolebindings', 'clusterrolebinding', 'ClusterRoleBinding', false],
    ] as const
  ).map(([resource, singular, kind, namespaced]) => ({
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource,
    singular,
    kind,
    namespaced,
  })),
  ...(
    [
      [
        'mutatingwebhookconfigurations',
        'mutatingwebhookconfiguration',
        'MutatingWebhookConfiguration',
      ],
      [
        'validatingwebhookconfigurations',
        'validatingwebhookconfiguration',
        'ValidatingWebhookConfiguration',
      ],
    ] as const
  ).map(([resource, singular, kind]) => ({
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    resource,
    singular,
    kind,
    namespaced: false,
    categories: ['api-extensions'],
  })),
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    resource: 'selfsubjectaccessreviews',
    singular: '',
    kind: 'SelfSubjectAccessReview',
    namespaced: false,
    verbs: ['create'],
  },
  {
    group: 'authentication.k8s.io',
    version: 'v1',
    resource: 'selfsubjectreviews',
    singular: '',
    kind: 'SelfSubjectReview',
    namespaced: false,
    verbs: ['create'],
  },
  {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    resource: 'customresourcedefinitions',
    singular: 'customresourcedefinition',
    kind: 'CustomResourceDefinition',
    namespaced: false,
    shortNames: ['crd', 'crds'],
    categories: ['api-extensions'],
    subresources: ['status'],
  },
];

/** `apiVersion` of a group/version: `v1` for the core group, else `group/version`. */
export function apiVersionOf(type: { group: string; version: string }): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

/** The storage key of a resource: `<group>/<resource>`. */
export function storageKeyOf(type: ResourceType): string {
  return `${type.group}/${type.resource}`;
}

export class ResourceRegistry {
  #types: readonly ResourceType[];

  constructor(types: readonly ResourceType[] = builtinResources) {
    this.#types = [...types];
  }

  all(): readonly ResourceType[] {
    return this.#types;
  }

  /** Replaces the custom resources (from the CRDs now established). */
  setCustomResources(types: readonly ResourceType[]): void {
    this.#types = [...this.#types.filter((type) => !type.custom), ...types];
  }

  /** The types of a storage key (one per served version). */
  typesOf(key: string): ResourceType[] {
    return this.#types.filter((type) => storageKeyOf(type) === key);
  }

  find(group: string, version: string, resource: string): ResourceType | undefined {
    return this.#types.find(
      (type) => type.group === group && type.version === version && type.resource === resource,
    );
  }

  /** Group → versions, in registration order (the first is preferred). */
  groups(): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (const type of this.#types) {
      const versions = groups.get(type.group) ?? [];
      if (!versions.includes(type.version)) versions.push(type.version);
      groups.set(type.group, versions);
    }
    return groups;
  }
}
