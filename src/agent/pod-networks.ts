/**
 * The agent's half of a CNI ADD (ipamd's `AddNetwork` for security groups for pods): it asks the
 * API server — not the runtime — what the pod is. A pod with the pod-eni limit waits (bounded)
 * for the controller's annotation and is wired through its branch ENI; any other pod is checked
 * against the SecurityGroupPolicies of its namespace and refused when one matches (fail-closed).
 * An API server that cannot be asked means no network: the plugin says "try again later".
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  isStatus,
  resourcePath,
  type KubeHttpClient,
  type KubeResource,
} from '../adapters/kube/kube-http-client.js';
import {
  branchPodPlan,
  hasPodEniLimit,
  regularPodPlan,
  type PodNetworkPlan,
} from '../core/cni/pod-network-plan.js';
import { readPolicies, readServiceAccount } from './policy-lookups.js';

export interface PodRef {
  readonly podNamespace: string;
  readonly podName: string;
  /** `K8S_POD_UID` from CNI_ARGS, when the runtime passes it. */
  readonly podUid?: string;
}

export interface PodNetworksOptions {
  readonly kube: KubeHttpClient;
  /** How long ADD waits for the annotation before the kubelet is told to retry. */
  readonly annotationWaitMs: number;
  readonly pollMs?: number;
}

export class PodNetworks {
  constructor(private readonly options: PodNetworksOptions) {}

  async #pod(ref: PodRef): Promise<KubeResource | undefined> {
    try {
      return await this.options.kube.get(resourcePath('v1', 'pods', ref.podNamespace, ref.podName));
    } catch (error) {
      if (isStatus(error, 'NotFound')) return undefined;
      throw error;
    }
  }

  async #regularPlan(pod: KubeResource): Promise<PodNetworkPlan> {
    const namespace = pod.metadata.namespace ?? '';
    const policies = await readPolicies(this.options.kube, namespace);
    if (policies.length === 0) return { kind: 'regular' };
    const serviceAccount = await readServiceAccount(this.options.kube, namespace, pod.spec);
    return regularPodPlan({ pod, policies, serviceAccount });
  }

  /** How to network the pod now; `wait` only after the bounded wait ran out. */
  async plan(ref: PodRef): Promise<PodNetworkPlan> {
    const deadline = Date.now() + this.options.annotationWaitMs;
    for (;;) {
      const pod = await this.#pod(ref);
      const name = `${ref.podNamespace}/${ref.podName}`;
      if (!pod) return { kind: 'refuse', reason: `pod ${name} does not exist` };
      if (ref.podUid && pod.metadata.uid !== ref.podUid) {
        return {
          kind: 'refuse',
          reason: `pod ${name} is now uid ${pod.metadata.uid ?? ''}, not ${ref.podUid}`,
        };
      }
      if (!hasPodEniLimit(pod)) return this.#regularPlan(pod);
      const plan = branchPodPlan(pod);
      if (plan.kind !== 'wait' || Date.now() >= deadline) return plan;
      await sleep(this.options.pollMs ?? 250);
    }
  }
}
