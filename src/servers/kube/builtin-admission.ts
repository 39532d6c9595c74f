/**
 * Defaulting and validation of the built-in kinds, for the fields this project's clients use:
 * object metadata (names, labels), Secrets, Namespaces, Pods and the pod templates of
 * Deployments, ReplicaSets and DaemonSets. Errors carry apiserver's field paths and wording, so
 * a bad manifest fails with 422 Invalid naming the field, as on a real cluster.
 */
import type { FieldError } from '../../core/errors.js';
import {
  dnsLabelProblems,
  invalidValue,
  requiredValue,
  subdomainProblems,
  validateLabels,
} from '../../core/kube/label-validation.js';
import {
  requirementMatches,
  selectorRequirements,
  validateLabelSelector,
  type LabelSelector,
  type Labels,
} from '../../core/kube/label-selector.js';
import { defaultedServiceSpec, validateService } from '../../core/kube/services.js';
import type { KubeObject } from './storage/kube-store.js';

type Json = Record<string, unknown>;

function objectAt(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Json)
    : {};
}

function listAt(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(objectAt) : [];
}

/** An image without a tag, or tagged `latest`, is pulled Always; otherwise IfNotPresent. */
function pullPolicyOf(image: unknown): string {
  if (typeof image !== 'string') return 'IfNotPresent';
  if (image.includes('@')) return 'IfNotPresent';
  const lastPart = image.split('/').at(-1) ?? '';
  const tag = lastPart.includes(':') ? lastPart.split(':').at(-1) : undefined;
  return tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultedContainer(container: Json): Json {
  return {
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: pullPolicyOf(container.image),
    resources: {},
    ...container,
    ...(container.ports
      ? { ports: listAt(container.ports).map((port) => ({ protocol: 'TCP', ...port })) }
      : {}),
  };
}

/** A rolling-update strategy: its type defaults, and so do the rolling parameters. */
function defaultedStrategy(value: unknown, rollingUpdate: Json): Json {
  const strategy = objectAt(value);
  const type = typeof strategy.type === 'string' && strategy.type ? strategy.type : 'RollingUpdate';
  if (type !== 'RollingUpdate') return { ...strategy, type };
  return {
    ...strategy,
    type,
    rollingUpdate: { ...rollingUpdate, ...objectAt(strategy.rollingUpdate) },
  };
}

/** PodSpec defaults (SetDefaults_PodSpec and the container defaults). */
export function defaultedPodSpec(spec: unknown): Json {
  const podSpec = objectAt(spec);
  return {
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    securityContext: {},
    schedulerName: 'default-scheduler',
    enableServiceLinks: true,
    ...podSpec,
    ...(podSpec.serviceAccountName || podSpec.serviceAccount
      ? {}
      : { serviceAccountName: 'default', serviceAccount: 'default' }),
    containers: listAt(podSpec.containers).map(defaultedContainer),
    ...(podSpec.initContainers
      ? { initContainers: listAt(podSpec.initContainers).map(defaultedContainer) }
      : {}),
  };
}

function defaultedTemplate(template: unknown): Json {
  const value = objectAt(template);
  return { ...value, spec: defaultedPodSpec(value.spec) };
}

const defaulters: Readonly<Record<string, (object: KubeObject) => KubeObject>> = {
  '/namespaces': (namespace) => ({
    ...namespace,
    metadata: {
      ...namespace.metadata,
      labels: {
        ...(namespace.metadata?.labels as Record<string, string> | undefined),
        'kubernetes.io/metadata.name': namespace.metadata?.name ?? '',
      },
    },
    spec: {
      ...objectAt(namespace.spec),
      finalizers: [
        ...new Set([
          ...((objectAt(namespace.spec).finalizers as string[] | undefined) ?? []),
          'kubernetes',
        ]),
      ],
    },
  }),
  '/pods': (pod) => ({ ...pod, spec: defaultedPodSpec(pod.spec) }),
  '/services': (service) => ({ ...service, spec: defaultedServiceSpec(service.spec) }),
  // stringData is write-only: merged into data (base64), winning over the same key there.
  '/secrets': (secret) => {
    const { stringData, ...rest } = secret as KubeObject & { stringData?: unknown };
    const data = { ...(objectAt(secret.data) as Record<string, string>) };
    for (const [key, value] of Object.entries(objectAt(stringData)))
      data[key] = Buffer.from(String(value), 'utf8').toString('base64');
    const type = typeof secret.type === 'string' && secret.type !== '' ? secret.type : 'Opaque';
    return stringData === undefined && secret.data === undefined
      ? { ...rest, type }
      : { ...rest, type, data };
  },
  'apps/deployments': (deployment) => {
    const spec = objectAt(deployment.spec);
    return {
      ...deployment,
      spec: {
        replicas: 1,
        revisionHistoryLimit: 10,
        progressDeadlineSeconds: 600,
        ...spec,
        strategy: defaultedStrategy(spec.strategy, { maxUnavailable: '25%', maxSurge: '25%' }),
        template: defaultedTemplate(spec.template),
      },
    };
  },
  'apps/replicasets': (replicaSet) => {
    const spec = objectAt(replicaSet.spec);
    return {
      ...replicaSet,
      spec: { replicas: 1, ...spec, template: defaultedTemplate(spec.template) },
    };
  },
  'apps/daemonsets': (daemonSet) => {
    const spec = objectAt(daemonSet.spec);
    return {
      ...daemonSet,
      spec: {
        revisionHistoryLimit: 10,
        ...spec,
        updateStrategy: defaultedStrategy(spec.updateStrategy, { maxUnavailable: 1, maxSurge: 0 }),
        template: defaultedTemplate(spec.template),
      },
    };
  },
};

/** The object with its kind's defaults filled in. */
export function defaultedBuiltin(key: string, object: KubeObject): KubeObject {
  return defaulters[key]?.(object) ?? object;
}

function validatePodSpec(spec: unknown, field: string): FieldError[] {
  const containers = listAt(objectAt(spec).containers);
  if (containers.length === 0) return [requiredValue(`${field}.containers`)];
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  containers.forEach((container, index) => {
    const at = `${field}.containers[${index}]`;
    const name = container.name;
    if (typeof name !== 'string' || name === '') errors.push(requiredValue(`${at}.name`));
    else {
      errors.push(...dnsLabelProblems(name).map((p) => invalidValue(`${at}.name`, name, p)));
      if (seen.has(name)) {
        errors.push({
          field: `${at}.name`,
          type: 'FieldValueDuplicate',
          message: `${at}.name: Duplicate value: ${JSON.stringify(name)}`,
        });
      }
      seen.add(name);
    }
    if (typeof container.image !== 'string' || container.image.trim() === '') {
      errors.push(requiredValue(`${at}.image`));
    }
  });
  return errors;
}

/** A workload's selector must be set, valid, non-empty, and must select its own template. */
function validateWorkload(object: KubeObject): FieldError[] {
  const spec = objectAt(object.spec);
  const template = objectAt(spec.template);
  const labels = objectAt(objectAt(template.metadata).labels) as Labels;
  const errors: FieldError[] = [];
  if (spec.selector === undefined) errors.push(requiredValue('spec.selector'));
  else {
    const selector = objectAt(spec.selector) as LabelSelector;
    const requirements = selectorRequirements(selector);
    errors.push(...validateLabelSelector(selector, 'spec.selector'));
    if (requirements.ok && requirements.requirements.length === 0) {
      errors.push(
        invalidValue('spec.selector', selector, 'empty selector is invalid for deployment'),
      );
    } else if (
      requirements.ok &&
      !requirements.requirements.every((requirement) => requirementMatches(requirement, labels))
    ) {
      errors.push(
        invalidValue(
          'spec.template.metadata.labels',
          labels,
          '`selector` does not match template `labels`',
        ),
      );
    }
  }
  const replicas = spec.replicas;
  if (replicas !== undefined && (typeof replicas !== 'number' || replicas < 0)) {
    errors.push(invalidValue('spec.replicas', replicas, 'must be greater than or equal to 0'));
  }
  errors.push(...validatePodSpec(template.spec, 'spec.template.spec'));
  return errors;
}

const validators: Readonly<Record<string, (object: KubeObject) => FieldError[]>> = {
  '/pods': (pod) => validatePodSpec(pod.spec, 'spec'),
  '/services': (service) => validateService(objectAt(service.spec)),
  'apps/deployments': validateWorkload,
  'apps/replicasets': validateWorkload,
  'apps/daemonsets': validateWorkload,
};

/** apimachinery `IsValidPathSegmentName`: RBAC names (`system:basic-user`) only avoid these. */
function pathSegmentProblems(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  const bad = ['/', '%'].find((character) => name.includes(character));
  return bad ? [`may not contain '${bad}'`] : [];
}

function nameProblems(key: string, name: string): string[] {
  if (key === '/namespaces') return dnsLabelProblems(name);
  if (key.startsWith('rbac.authorization.k8s.io/')) return pathSegmentProblems(name);
  return subdomainProblems(name);
}

/** ObjectMeta: the name's format (per kind) and the labels. */
export function validateMetadata(key: string, object: KubeObject): FieldError[] {
  const name = object.metadata?.name ?? '';
  const problems = nameProblems(key, name);
  return [
    ...problems.map((problem) => invalidValue('metadata.name', name, problem)),
    ...validateLabels(
      objectAt(object.metadata?.labels) as Record<string, string>,
      'metadata.labels',
    ),
  ];
}

/** The kind's own rules (beyond metadata). */
export function validateBuiltin(key: string, object: KubeObject): FieldError[] {
  return validators[key]?.(object) ?? [];
}
