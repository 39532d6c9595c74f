/**
 * The resource controller's admission decisions, as `webhooks/core/*.go` make them (rc.md §3):
 * the mutating pod webhook (hostNetwork, Fargate, Windows and Linux paths; the pod-eni request
 * in the first container's limits and requests), the validating pod webhook (the protected
 * annotation, the controller identities, Fargate's annotation) and the validating node webhook
 * (what aws-node may change on a Node). Pure: the caller resolves the pod's groups and speaks
 * AdmissionReview.
 */
import { podEniResource } from '../policy/pod-eni-annotation.js';
import type { PodSecurityGroups } from '../policy/resolve-pod-security-groups.js';

type Json = Record<string, unknown>;

export { podEniResource };
export const podEniAnnotationKey = 'vpc.amazonaws.com/pod-eni';
export const fargateProfileLabel = 'eks.amazonaws.com/fargate-profile';
export const fargatePodSgAnnotation = 'fargate.amazonaws.com/pod-sg';
export const windowsPrivateIpResource = 'vpc.amazonaws.com/PrivateIPv4Address';

/** The identities that may write the pod-eni annotation. */
export const controllerIdentities: readonly string[] = [
  'system:serviceaccount:kube-system:vpc-resource-controller',
  'system:serviceaccount:kube-system:eks-vpc-resource-controller',
  'eks:vpc-resource-controller',
];
export const awsNodeIdentity = 'system:serviceaccount:kube-system:aws-node';

export interface JsonPatchOperation {
  readonly op: 'add' | 'replace' | 'remove';
  readonly path: string;
  readonly value?: unknown;
}

export type AdmissionDecision =
  | { readonly allowed: true; readonly reason: string; readonly patch?: JsonPatchOperation[] }
  | { readonly allowed: false; readonly reason: string };

export type PodPath = 'host-network' | 'fargate' | 'windows' | 'linux';

function objectAt(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Json)
    : {};
}

/** Which path of the mutating webhook a pod takes, in upstream's order. */
export function podPathOf(pod: Json): PodPath {
  const spec = objectAt(pod.spec);
  if (spec.hostNetwork === true) return 'host-network';
  const labels = objectAt(objectAt(pod.metadata).labels);
  if (fargateProfileLabel in labels) return 'fargate';
  const selector = objectAt(spec.nodeSelector);
  if (selector['kubernetes.io/os'] === 'windows' || selector['beta.kubernetes.io/os'] === 'windows')
    return 'windows';
  return 'linux';
}

/** JSON Pointer escaping of one path segment. */
function pointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** `resource: "1"` in the first container's limits and requests (added or overwritten). */
export function firstContainerResourcePatch(pod: Json, resource: string): JsonPatchOperation[] {
  const containers = objectAt(pod.spec).containers;
  const first = Array.isArray(containers) ? objectAt(containers[0]) : {};
  const base = '/spec/containers/0/resources';
  if (!('resources' in first) || typeof first.resources !== 'object' || first.resources === null)
    return [
      {
        op: 'add',
        path: base,
        value: { limits: { [resource]: '1' }, requests: { [resource]: '1' } },
      },
    ];
  const resources = objectAt(first.resources);
  return (['limits', 'requests'] as const).map((kind) => {
    const current = resources[kind];
    if (typeof current !== 'object' || current === null)
      return { op: 'add', path: `${base}/${kind}`, value: { [resource]: '1' } };
    const present = resource in objectAt(current);
    return {
      op: present ? 'replace' : 'add',
      path: `${base}/${kind}/${pointer(resource)}`,
      value: '1',
    };
  });
}

const lookupFailure = 'Failed to get Matching SGP for Pods, rejecting event';

function fargateDecision(pod: Json, groups: PodSecurityGroups): AdmissionDecision {
  if (!groups.ok) return { allowed: false, reason: lookupFailure };
  const annotations = objectAt(objectAt(pod.metadata).annotations);
  if (groups.groupIds.length === 0) {
    if (!(fargatePodSgAnnotation in annotations))
      return { allowed: true, reason: "Fargate pod didn't match any SGP" };
    return {
      allowed: true,
      reason: 'removed the Fargate security group annotation',
      patch: [{ op: 'remove', path: `/metadata/annotations/${pointer(fargatePodSgAnnotation)}` }],
    };
  }
  const value = groups.groupIds.join(',');
  const patch: JsonPatchOperation[] =
    'annotations' in objectAt(pod.metadata)
      ? [
          {
            op: fargatePodSgAnnotation in annotations ? 'replace' : 'add',
            path: `/metadata/annotations/${pointer(fargatePodSgAnnotation)}`,
            value,
          },
        ]
      : [{ op: 'add', path: '/metadata/annotations', value: { [fargatePodSgAnnotation]: value } }];
  return { allowed: true, reason: 'Fargate pod matched SGP', patch };
}

/**
 * The mutating pod webhook (`/mutate-v1-pod`, pods CREATE). `groups` is the pod's resolution
 * (needed for the Linux and Fargate paths only); `windowsIpam` is the `enable-windows-ipam` switch.
 */
export function mutatePod(
  pod: Json,
  groups: () => PodSecurityGroups,
  windowsIpam = false,
): AdmissionDecision {
  switch (podPathOf(pod)) {
    case 'host-network':
      return { allowed: true, reason: 'SGP not supported on Pod running on HostNetwork' };
    case 'fargate':
      return fargateDecision(pod, groups());
    case 'windows':
      return windowsIpam
        ? {
            allowed: true,
            reason: 'Windows IPAM: a private IPv4 address requested',
            patch: firstContainerResourcePatch(pod, windowsPrivateIpResource),
          }
        : { allowed: true, reason: 'Windows pod: security groups for pods are not supported' };
    case 'linux': {
      const resolved = groups();
      if (!resolved.ok)
        return { allowed: false, reason: `${lookupFailure}, error ${resolved.error}` };
      if (resolved.groupIds.length === 0)
        return { allowed: true, reason: "Pod didn't match any SGP" };
      return {
        allowed: true,
        reason: `Pod matched SGP: ${resolved.groupIds.join(', ')}`,
        patch: firstContainerResourcePatch(pod, podEniResource),
      };
    }
  }
}

function annotationsOf(object: Json | undefined): Json {
  return objectAt(objectAt(object?.metadata).annotations);
}

/** The validating pod webhook (`/validate-v1-pod`, pods CREATE and UPDATE). */
export function validatePod(
  operation: string,
  pod: Json,
  oldPod: Json | undefined,
  username: string,
  windowsIpam = false,
): AdmissionDecision {
  const protectedKeys = [podEniAnnotationKey, ...(windowsIpam ? [windowsPrivateIpResource] : [])];
  const annotations = annotationsOf(pod);
  if (operation === 'CREATE') {
    const found = protectedKeys.find((key) => key in annotations);
    return found
      ? { allowed: false, reason: `pod cannot be created with ${found} annotation` }
      : { allowed: true, reason: 'no protected annotation' };
  }
  if (operation !== 'UPDATE') return { allowed: true, reason: `${operation} is not checked` };
  const previous = annotationsOf(oldPod);
  if (previous[fargatePodSgAnnotation] !== annotations[fargatePodSgAnnotation])
    return { allowed: false, reason: 'annotation is not set by mutating webhook' };
  const changed = protectedKeys.some((key) => previous[key] !== annotations[key]);
  if (changed && !controllerIdentities.includes(username))
    return { allowed: false, reason: 'annotation is not set by vpc-resource-controller' };
  return { allowed: true, reason: 'protected annotations unchanged or set by the controller' };
}

/** The labels aws-node may change on its Node. */
const awsNodeLabels = ['vpc.amazonaws.com/has-trunk-attached', 'vpc.amazonaws.com/eniConfig'];

function withoutAwsNodeFields(node: Json | undefined): Json {
  const metadata = { ...objectAt(node?.metadata) };
  metadata.labels = Object.fromEntries(
    Object.entries(objectAt(metadata.labels)).filter(([key]) => !awsNodeLabels.includes(key)),
  );
  delete metadata.managedFields;
  delete metadata.selfLink;
  return { ...node, metadata };
}

/** Structural equality of JSON values (key order ignored). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const left = a as Json;
  const right = b as Json;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => key in right && sameJson(left[key], right[key]));
}

/** The validating node webhook (`/validate-v1-node`, nodes UPDATE). */
export function validateNodeUpdate(
  username: string,
  node: Json,
  oldNode: Json | undefined,
): AdmissionDecision {
  if (username !== awsNodeIdentity) return { allowed: true, reason: 'not aws-node' };
  return sameJson(withoutAwsNodeFields(node), withoutAwsNodeFields(oldNode))
    ? { allowed: true, reason: 'aws-node changed only its labels' }
    : { allowed: false, reason: 'aws-node can only update limited fields on the Node Object' };
}
