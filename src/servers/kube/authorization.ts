/**
 * RBAC as kube-apiserver's authorizer applies it: a request (user, verb, API group, resource,
 * subresource, namespace, name — or a non-resource path) is allowed when a ClusterRoleBinding,
 * or a RoleBinding of its namespace, binds one of the user's identities to a rule that covers it.
 * `system:masters` is always allowed. The bootstrap roles and bindings a cluster starts with are
 * created here too, and Forbidden messages are worded as Kubernetes words them.
 */
import { KubeStatusError } from '../../core/errors.js';
import type { UserInfo } from './authentication.js';
import type { KubeObject, KubeStore } from './storage/kube-store.js';

export const rbacGroup = 'rbac.authorization.k8s.io';

/** What a request does, in the terms RBAC rules use. */
export type RequestAttributes =
  | {
      readonly kind: 'resource';
      readonly verb: string;
      readonly apiGroup: string;
      readonly resource: string;
      readonly subresource?: string;
      readonly namespace: string;
      readonly name?: string;
    }
  | { readonly kind: 'nonResource'; readonly verb: string; readonly path: string };

interface PolicyRule {
  readonly verbs?: readonly string[];
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
}

interface Subject {
  readonly kind?: string;
  readonly name?: string;
  readonly namespace?: string;
}

const covers = (values: readonly string[] | undefined, value: string) =>
  (values ?? []).some((candidate) => candidate === '*' || candidate === value);

function ruleAllows(rule: PolicyRule, request: RequestAttributes): boolean {
  if (!covers(rule.verbs, request.verb)) return false;
  if (request.kind === 'nonResource') {
    return (rule.nonResourceURLs ?? []).some(
      (url) =>
        url === '*' ||
        url === request.path ||
        (url.endsWith('*') && request.path.startsWith(url.slice(0, -1))),
    );
  }
  if (!covers(rule.apiGroups, request.apiGroup)) return false;
  const resource = request.subresource
    ? `${request.resource}/${request.subresource}`
    : request.resource;
  const resources = rule.resources ?? [];
  const resourceCovered =
    resources.includes('*') ||
    resources.includes(resource) ||
    (request.subresource !== undefined && resources.includes(`*/${request.subresource}`));
  if (!resourceCovered) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (request.name !== undefined && names.includes(request.name));
}

/** The identity a ServiceAccount authenticates as. */
export function serviceAccountUser(namespace: string, name: string, uid: string): UserInfo {
  return {
    username: `system:serviceaccount:${namespace}:${name}`,
    uid,
    groups: [
      'system:serviceaccounts',
      `system:serviceaccounts:${namespace}`,
      'system:authenticated',
    ],
  };
}

function subjectMatches(subject: Subject, user: UserInfo, bindingNamespace: string): boolean {
  const name = subject.name ?? '';
  if (subject.kind === 'User') return name === user.username;
  if (subject.kind === 'Group') return user.groups.includes(name);
  if (subject.kind !== 'ServiceAccount') return false;
  const namespace = subject.namespace ?? bindingNamespace;
  return user.username === `system:serviceaccount:${namespace}:${name}`;
}

export class Authorizer {
  constructor(private readonly store: KubeStore) {}

  #rulesOf(roleRef: unknown, bindingNamespace: string): readonly PolicyRule[] {
    const ref = (roleRef ?? {}) as { kind?: string; name?: string };
    const role =
      ref.kind === 'Role'
        ? this.store.get(`${rbacGroup}/roles`, bindingNamespace, ref.name ?? '')
        : this.store.get(`${rbacGroup}/clusterroles`, '', ref.name ?? '');
    return (role as { rules?: PolicyRule[] } | undefined)?.rules ?? [];
  }

  #bound(binding: KubeObject, user: UserInfo): boolean {
    const namespace = binding.metadata?.namespace ?? '';
    const subjects = (binding.subjects ?? []) as Subject[];
    return subjects.some((subject) => subjectMatches(subject, user, namespace));
  }

  /** Whether the user may make the request, and which binding allowed it. */
  authorize(user: UserInfo, request: RequestAttributes): { allowed: boolean; reason: string } {
    if (user.groups.includes('system:masters')) {
      return { allowed: true, reason: 'the system:masters group is allowed everything' };
    }
    for (const binding of this.store.list(`${rbacGroup}/clusterrolebindings`).items) {
      if (!this.#bound(binding, user)) continue;
      if (this.#rulesOf(binding.roleRef, '').some((rule) => ruleAllows(rule, request))) {
        return {
          allowed: true,
          reason: `RBAC: allowed by ClusterRoleBinding "${binding.metadata?.name ?? ''}"`,
        };
      }
    }
    if (request.kind === 'resource' && request.namespace) {
      for (const binding of this.store.list(`${rbacGroup}/rolebindings`, request.namespace).items) {
        if (!this.#bound(binding, user)) continue;
        const rules = this.#rulesOf(binding.roleRef, request.namespace);
        if (rules.some((rule) => ruleAllows(rule, request))) {
          return {
            allowed: true,
            reason: `RBAC: allowed by RoleBinding "${binding.metadata?.name ?? ''}/${request.namespace}"`,
          };
        }
      }
    }
    return { allowed: false, reason: '' };
  }

  /** Throws Forbidden, worded as kube-apiserver does, unless the request is allowed. */
  require(user: UserInfo, request: RequestAttributes): void {
    if (this.authorize(user, request).allowed) return;
    throw forbidden(user, request);
  }
}

export function forbidden(user: UserInfo, request: RequestAttributes): KubeStatusError {
  if (request.kind === 'nonResource') {
    return new KubeStatusError(
      'Forbidden',
      403,
      `forbidden: User "${user.username}" cannot ${request.verb} path "${request.path}"`,
    );
  }
  const qualified = request.apiGroup ? `${request.resource}.${request.apiGroup}` : request.resource;
  const subject = request.name ? `${qualified} "${request.name}"` : qualified;
  const resource = request.subresource
    ? `resource "${request.resource}/${request.subresource}"`
    : `resource "${request.resource}"`;
  const scope = request.namespace
    ? `in the namespace "${request.namespace}"`
    : 'at the cluster scope';
  return new KubeStatusError(
    'Forbidden',
    403,
    `${subject} is forbidden: User "${user.username}" cannot ${request.verb} ${resource} in API group "${request.apiGroup}" ${scope}`,
    {
      ...(request.name ? { name: request.name } : {}),
      group: request.apiGroup || undefined,
      kind: request.resource,
    },
  );
}

const readVerbs = ['get', 'list', 'watch'];
const writeVerbs = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const namespacedResources = [
  'pods',
  'pods/log',
  'pods/status',
  'configmaps',
  'secrets',
  'serviceaccounts',
  'events',
  'deployments',
  'deployments/scale',
  'replicasets',
  'replicasets/scale',
  'daemonsets',
  'leases',
];

/** The roles and bindings every cluster starts with (a subset of kube-apiserver's bootstrap). */
export const bootstrapPolicy: readonly {
  readonly resource: 'clusterroles' | 'clusterrolebindings';
  readonly object: KubeObject;
}[] = [
  {
    resource: 'clusterroles',
    object: {
      metadata: { name: 'cluster-admin' },
      rules: [
        { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
        { nonResourceURLs: ['*'], verbs: ['*'] },
      ],
    },
  },
  {
    resource: 'clusterroles',
    object: {
      metadata: { name: 'edit' },
      rules: [
        {
          apiGroups: ['', 'apps', 'events.k8s.io', 'coordination.k8s.io', 'vpcresources.k8s.aws'],
          resources: [...namespacedResources, 'securitygrouppolicies'],
          verbs: [...readVerbs, ...writeVerbs],
        },
      ],
    },
  },
  {
    resource: 'clusterroles',
    object: {
      metadata: { name: 'view' },
      rules: [
        {
          apiGroups: ['', 'apps', 'events.k8s.io', 'coordination.k8s.io', 'vpcresources.k8s.aws'],
          resources: [
            ...namespacedResources.filter((r) => r !== 'secrets'),
            'securitygrouppolicies',
          ],
          verbs: readVerbs,
        },
      ],
    },
  },
  {
    resource: 'clusterroles',
    object: {
      metadata: { name: 'system:basic-user' },
      rules: [
        {
          apiGroups: ['authentication.k8s.io', 'authorization.k8s.io'],
          resources: ['selfsubjectreviews', 'selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
          verbs: ['create'],
        },
      ],
    },
  },
  {
    resource: 'clusterroles',
    object: {
      metadata: { name: 'system:discovery' },
      rules: [
        {
          nonResourceURLs: [
            '/api',
            '/api/*',
            '/apis',
            '/apis/*',
            '/openapi',
            '/openapi/*',
            '/version',
            '/version/',
            '/healthz',
            '/livez',
            '/readyz',
          ],
          verbs: ['get'],
        },
      ],
    },
  },
  ...['cluster-admin', 'system:basic-user', 'system:discovery'].map((name) => ({
    resource: 'clusterrolebindings' as const,
    object: {
      metadata: { name },
      roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name },
      subjects: [
        {
          apiGroup: rbacGroup,
          kind: 'Group',
          name: name === 'cluster-admin' ? 'system:masters' : 'system:authenticated',
        },
      ],
    },
  })),
];
