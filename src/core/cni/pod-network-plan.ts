/**
 * How the node agent networks a pod (the ipamd side of the VPC CNI's ADD, cni-sg.md A3), pure:
 * a pod with the `vpc.amazonaws.com/pod-eni` limit is wired through its branch ENI once the
 * controller's annotation names it; any other pod gets a secondary address of the node's ENI —
 * unless it matches a SecurityGroupPolicy, in which case it is refused (fail-closed: such a pod
 * would otherwise run with the node's groups). The caller fetches the pod, the policies of its
 * namespace and its service account from the API server; nothing is trusted from the spec the
 * runtime passed along.
 */
import { nthAddress, parseCidr, parseIpAddress } from '../net/ip-address.js';
import {
  decodePodEniAnnotation,
  podEniAnnotation,
  podEniResource,
} from '../policy/pod-eni-annotation.js';
import {
  resolvePodSecurityGroups,
  type ServiceAccountIdentity,
} from '../policy/resolve-pod-security-groups.js';
import type { SecurityGroupPolicy } from '../policy/security-group-policy.js';

type Json = Record<string, unknown>;

/** What the CNI plugin needs to wire a pod through its branch ENI. */
export interface BranchWiring {
  readonly eniId: string;
  readonly vlanId: number;
  /** The branch ENI's MAC (`ifAddress`), which `vlan.eth.<vlanId>` carries. */
  readonly mac: string;
  readonly address: string;
  readonly subnetCidr: string;
  /** The subnet's router, first host of `subnetCidr` (as ipamd computes it). */
  readonly gateway: string;
}

export type PodNetworkPlan =
  | { readonly kind: 'regular' }
  | { readonly kind: 'branch'; readonly wiring: BranchWiring }
  /** The branch ENI is not there yet: ask again (the plugin fails with "try again later"). */
  | { readonly kind: 'wait'; readonly reason: string }
  /** Never networked this way: the pod should have a branch ENI and cannot get one. */
  | { readonly kind: 'refuse'; readonly reason: string };

/** Whether `containers[0]` has a `vpc.amazonaws.com/pod-eni*` limit (what ipamd checks). */
export function hasPodEniLimit(pod: Json): boolean {
  const containers = ((pod.spec as Json | undefined)?.containers ?? []) as Json[];
  const limits = ((containers[0]?.resources as Json | undefined)?.limits ?? {}) as Json;
  return Object.keys(limits).some((key) => key.startsWith(podEniResource));
}

function podName(pod: Json): string {
  const metadata = (pod.metadata ?? {}) as Json;
  return `${String(metadata.namespace)}/${String(metadata.name)}`;
}

/** The first branch ENI of the annotation, validated as ipamd validates it. */
export function branchWiringOf(annotation: string): BranchWiring {
  const [first] = decodePodEniAnnotation(annotation);
  if (!first) throw new RangeError(`${podEniAnnotation} names no branch ENI`);
  const address = parseIpAddress(first.privateIp);
  if (!address || address.family !== 4)
    throw new RangeError(`${podEniAnnotation} has no IPv4 privateIp ("${first.privateIp}")`);
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(first.ifAddress))
    throw new RangeError(`${podEniAnnotation} has no MAC address in ifAddress`);
  if (first.vlanId === 0) throw new RangeError(`${podEniAnnotation} has vlanId 0`);
  const subnet = parseCidr(first.subnetCidr);
  if (!subnet || subnet.cidr.family !== 4)
    throw new RangeError(`${podEniAnnotation} has no IPv4 subnetCidr ("${first.subnetCidr}")`);
  return {
    eniId: first.eniId,
    vlanId: first.vlanId,
    mac: first.ifAddress.toLowerCase(),
    address: first.privateIp,
    subnetCidr: first.subnetCidr,
    gateway: nthAddress(subnet.cidr, 1).text,
  };
}

/** A pod with the pod-eni limit: its annotation decides. */
export function branchPodPlan(pod: Json): PodNetworkPlan {
  const annotations = ((pod.metadata as Json | undefined)?.annotations ?? {}) as Record<
    string,
    string
  >;
  const annotation = annotations[podEniAnnotation];
  if (annotation === undefined) {
    return {
      kind: 'wait',
      reason: `failed to get Branch ENI resource: pod ${podName(pod)} has no ${podEniAnnotation} annotation yet`,
    };
  }
  try {
    return { kind: 'branch', wiring: branchWiringOf(annotation) };
  } catch (error) {
    return {
      kind: 'refuse',
      reason: `pod ${podName(pod)}: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

export interface RegularPodInput {
  readonly pod: Json;
  readonly policies: readonly SecurityGroupPolicy[];
  /** The pod's service account; undefined when it does not exist. */
  readonly serviceAccount: ServiceAccountIdentity | undefined;
}

/** A pod without the limit: regular, unless a policy of its namespace matches it. */
export function regularPodPlan(input: RegularPodInput): PodNetworkPlan {
  const { pod, policies } = input;
  if (policies.length === 0) return { kind: 'regular' };
  const metadata = (pod.metadata ?? {}) as Json;
  const spec = (pod.spec ?? {}) as Json;
  const resolved = resolvePodSecurityGroups({
    pod: {
      namespace: String(metadata.namespace),
      name: String(metadata.name),
      labels: (metadata.labels ?? {}) as Record<string, string>,
      serviceAccountName:
        typeof spec.serviceAccountName === 'string' ? spec.serviceAccountName : '',
    },
    serviceAccount: input.serviceAccount,
    policies,
  });
  if (!resolved.ok) {
    return {
      kind: 'refuse',
      reason: `cannot tell whether pod ${podName(pod)} matches a SecurityGroupPolicy (${resolved.error}); refusing the node's network`,
    };
  }
  const matched = resolved.judgements.filter((judgement) => judgement.outcome === 'matched');
  if (matched.length === 0) return { kind: 'regular' };
  return {
    kind: 'refuse',
    reason: `pod ${podName(pod)} matches SecurityGroupPolicy ${matched.map((judgement) => judgement.name).join(', ')} but has no ${podEniResource} request (admitted before the policy existed?): it gets no network until it is recreated with a branch ENI`,
  };
}
