/**
 * The pod side of branch ENIs (rc.md §4.1–§4.4): once a pod asking for `vpc.amazonaws.com/pod-eni`
 * is bound to a managed node, its groups are resolved, its ENIs made on the node's trunk and
 * written to the `vpc.amazonaws.com/pod-eni` annotation (UID-checked), with upstream's events; a
 * failure rolls back what was made and is retried with backoff; a pod that is gone or completed
 * releases its ENIs into the cool-down. Beyond upstream, each behind a flag:
 * - live policy: a running pod's ENI groups follow its policies, labels and service account
 *   (ModifyNetworkInterfaceAttribute, `SecurityGroupsUpdated`);
 * - no silent fallback: a pod matching no policy waits (Warning) instead of getting the node's
 *   groups, unless `--fallback-to-instance-sg`;
 * - self-healing admission: a running pod that matches a policy but was admitted without the
 *   request gets a Warning and, when a controller owns it, is deleted to be made again.
 */
import {
  DescribeNetworkInterfacesCommand,
  type DescribeNetworkInterfacesCommandOutput,
} from '@aws-sdk/client-ec2';
import {
  CoreV1Api as CoreV1Api,
  PatchStrategy,
  V1DeleteOptions,
  V1Preconditions,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { WorkQueue } from '../adapters/kube/work-queue.js';
import { branchAction, podEniRequestCount } from '../core/controller/branch-eni.js';
import { podPathOf } from '../core/controller/pod-admission.js';
import {
  decodePodEniAnnotation,
  encodePodEniAnnotation,
  podEniAnnotation,
  type BranchEniDetails,
} from '../core/policy/pod-eni-annotation.js';
import type { ClusterInformers, Json, PlainObject } from './cluster-informers.js';
import type { ControllerEvents } from './controller-events.js';
import type { Ec2Gateway } from './ec2-gateway.js';
import { statusCodeOf } from './kube-objects.js';
import type { Logger } from './logger.js';
import type { PolicyCache } from './policy-cache.js';
import { BranchAllocationError, createBranch, replaceGroups } from './trunk-eni-calls.js';
import type { NodeTrunk, TrunkNodes } from './trunk-nodes.js';

export interface BranchEniBehaviour {
  /** Upstream: a pod matching no policy gets the node's groups. Default false: it waits. */
  readonly fallbackToInstanceSg: boolean;
  /** Running pods' ENI groups follow policy changes. Default true. */
  readonly livePolicy: boolean;
  /** Pods admitted without their request are deleted to be made again. Default true. */
  readonly recreateUnadmittedPods: boolean;
}

export interface PodBranchEnisOptions {
  readonly config: KubeConfig;
  readonly informers: ClusterInformers;
  readonly policies: PolicyCache;
  readonly trunks: TrunkNodes;
  readonly gateway: Ec2Gateway;
  readonly events: ControllerEvents;
  readonly logger: Logger;
  readonly clusterName: string;
  readonly behaviour: BranchEniBehaviour;
  readonly coolDownMs: () => number;
}

interface PodRef {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

const keyOf = (pod: PlainObject) => `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;

const refOf = (pod: PlainObject): PodRef => ({
  name: pod.metadata?.name ?? '',
  namespace: pod.metadata?.namespace ?? '',
  uid: pod.metadata?.uid ?? '',
});

const listOf = (groups: readonly string[]) => `[${groups.join(' ')}]`;

const sameGroups = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join() === [...b].sort().join();

/** Messages of the pod events (rc.md §4.2, and ours beyond upstream). */
export const podEventMessages = {
  requested: (groups: readonly string[]): string =>
    `Pod will get the following Security Groups ${listOf(groups)}`,
  instanceFallback:
    "Pod will get the instance security group as the pod didn't match any Security Group from SecurityGroupPolicy",
  waitingForPolicy:
    'Pod requests a branch ENI but matches no SecurityGroupPolicy; it waits for one instead of getting the instance security groups (--fallback-to-instance-sg=false)',
  allocationFailed: (message: string): string => `failed to allocate branch ENI to pod: ${message}`,
  annotationFailed: (message: string): string =>
    `failed to annotate pod with branch ENI details: ${message}`,
  allocated: (annotation: string): string => `Allocated ${annotation} to the pod`,
  groupsUpdated: (from: readonly string[], to: readonly string[]): string =>
    `Security groups of the pod's branch ENI changed from ${listOf(from)} to ${listOf(to)}`,
  policyLost: (from: readonly string[], to: readonly string[]): string =>
    `Pod no longer matches any SecurityGroupPolicy: its branch ENI's groups changed from ${listOf(from)} to the instance security groups ${listOf(to)}`,
  unadmitted: (groups: readonly string[], recreated: boolean): string =>
    `Pod matches SecurityGroupPolicy groups ${listOf(groups)} but was admitted without the vpc.amazonaws.com/pod-eni request (created before its policy, or while the webhook was unavailable)` +
    (recreated ? '; deleting it so that its controller makes it again through the webhook' : ''),
};

export class PodBranchEnis {
  readonly #queue: WorkQueue;
  readonly #core: CoreV1Api;
  /** The pod each key stood for when last seen with a pod-eni request: released when replaced. */
  readonly #seen = new Map<string, { uid: string; nodeName: string }>();
  /** Pods waiting for room on a node. */
  readonly #waiting = new Map<string, Set<string>>();
  readonly #warnedWithoutPolicy = new Set<string>();
  readonly #healed = new Set<string>();

  constructor(private readonly options: PodBranchEnisOptions) {
    this.#core = options.config.makeApiClient(CoreV1Api);
    this.#queue = new WorkQueue((key) => this.#sync(key), {
      concurrency: 30,
      maxBackoffMs: 30_000,
      onError: (error, key) => {
        options.logger.warn({ pod: key, err: error }, 'pod: branch ENI work failed; retrying');
      },
    });
  }

  start(): void {
    const { informers, policies } = this.options;
    informers.onPod((pod, deleted) => {
      if (deleted) {
        this.#warnedWithoutPolicy.delete(pod.metadata?.uid ?? '');
        this.#healed.delete(pod.metadata?.uid ?? '');
      }
      this.#queue.add(keyOf(pod));
    });
    const namespaceChanged = (object: { metadata?: { namespace?: string } }) => {
      this.#queueNamespace(object.metadata?.namespace ?? '');
    };
    for (const event of ['add', 'update', 'delete'] as const) {
      policies.policies.on(event, namespaceChanged);
      policies.serviceAccounts.on(event, namespaceChanged);
    }
    for (const pod of informers.pods()) this.#queue.add(keyOf(pod));
  }

  stop(): void {
    this.#queue.close();
  }

  /** Resolves when no pod work is queued or running (benchmarks, tests). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  /** The node's trunk is ready, or made room: its pods are looked at again. */
  queueNode(nodeName: string): void {
    for (const pod of this.options.informers.podsOnNode(nodeName)) this.#queue.add(keyOf(pod));
  }

  roomMade(nodeName: string): void {
    const waiting = this.#waiting.get(nodeName);
    this.#waiting.delete(nodeName);
    for (const key of waiting ?? []) this.#queue.add(key);
  }

  #queueNamespace(namespace: string): void {
    for (const pod of this.options.informers.pods())
      if (pod.metadata?.namespace === namespace) this.#queue.add(keyOf(pod));
  }

  /** The pod behind a key, bound to a node; a pod it replaced (or that is gone) is released. */
  #boundPod(key: string): { pod: PlainObject; nodeName: string } | undefined {
    const [namespace = '', name = ''] = key.split('/');
    const pod = this.options.informers.pod(namespace, name);
    const seen = this.#seen.get(key);
    if (seen && pod?.metadata?.uid !== seen.uid) {
      this.options.trunks.release(seen.nodeName, seen.uid);
      this.#seen.delete(key);
    }
    const nodeName = pod?.spec?.nodeName;
    return pod && typeof nodeName === 'string' && nodeName !== '' ? { pod, nodeName } : undefined;
  }

  async #sync(key: string): Promise<void> {
    const bound = this.#boundPod(key);
    if (!bound) return;
    const { pod, nodeName } = bound;
    const uid = pod.metadata?.uid ?? '';
    const nodeExists = this.options.informers.node(nodeName) !== undefined;
    if (branchAction(pod as Json, nodeExists) === 'delete') {
      this.options.trunks.release(nodeName, uid);
      this.#seen.delete(key);
      return;
    }
    const count = podEniRequestCount(pod as Json);
    if (count === 0) {
      await this.#healUnadmitted(pod);
      return;
    }
    this.#seen.set(key, { uid, nodeName });
    const trunk = this.options.trunks.trunkOf(nodeName);
    if (!trunk) return; // queued again when the node's trunk is ready
    await this.#serve(key, pod, trunk, count);
  }

  async #serve(key: string, pod: PlainObject, trunk: NodeTrunk, count: number): Promise<void> {
    if (trunk.ledger.hasPod(pod.metadata?.uid ?? '')) {
      await this.#followPolicy(pod, trunk);
      return;
    }
    const annotation = pod.metadata?.annotations?.[podEniAnnotation];
    if (annotation) {
      await this.#adopt(refOf(pod), trunk, annotation);
      return;
    }
    await this.#allocate(key, trunk, count);
  }

  /** An annotated pod the ledger does not know (made by another leader): taken over. */
  async #adopt(pod: PodRef, trunk: NodeTrunk, annotation: string): Promise<void> {
    let enis: BranchEniDetails[];
    try {
      enis = decodePodEniAnnotation(annotation);
    } catch {
      return;
    }
    const answer = await this.options.gateway.send<DescribeNetworkInterfacesCommandOutput>(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: enis.map((eni) => eni.eniId) }),
    );
    const groups = new Map(
      (answer.NetworkInterfaces ?? []).map((eni) => [
        eni.NetworkInterfaceId ?? '',
        (eni.Groups ?? []).map((group) => group.GroupId ?? ''),
      ]),
    );
    trunk.ledger.assign(
      pod.uid,
      enis.map((details) => ({ details, groups: groups.get(details.eniId) ?? [] })),
    );
  }

  async #readPod(namespace: string, name: string): Promise<PlainObject | undefined> {
    try {
      const pod = await this.#core.readNamespacedPod({ name, namespace });
      return JSON.parse(JSON.stringify(pod)) as PlainObject;
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** The groups a pod gets now, or undefined when it is to wait for a policy. */
  async #groupsFor(pod: PlainObject, trunk: NodeTrunk): Promise<readonly string[] | undefined> {
    const ref = refOf(pod);
    const resolved = await this.options.policies.resolve(pod as Json, ref.namespace);
    if (!resolved.ok) throw new Error(resolved.error);
    const { events, behaviour } = this.options;
    if (resolved.groupIds.length > 0) {
      events.pod(
        ref,
        'Normal',
        'SecurityGroupRequested',
        podEventMessages.requested(resolved.groupIds),
      );
      return resolved.groupIds;
    }
    if (!behaviour.fallbackToInstanceSg) {
      if (!this.#warnedWithoutPolicy.has(ref.uid)) {
        this.#warnedWithoutPolicy.add(ref.uid);
        events.pod(ref, 'Warning', 'SecurityGroupRequested', podEventMessages.waitingForPolicy);
      }
      return undefined;
    }
    events.pod(ref, 'Warning', 'SecurityGroupRequested', podEventMessages.instanceFallback);
    return trunk.instance.instanceGroups;
  }

  async #allocate(key: string, trunk: NodeTrunk, count: number): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    const pod = await this.#readPod(namespace, name);
    const cached = this.options.informers.pod(namespace, name);
    if (!pod || pod.metadata?.uid !== cached?.metadata?.uid) return; // a newer event follows
    const ref = refOf(pod);
    const annotation = pod.metadata?.annotations?.[podEniAnnotation];
    if (annotation) {
      await this.#adopt(ref, trunk, annotation);
      return;
    }
    const groups = await this.#groupsFor(pod, trunk);
    if (!groups) return; // a policy change brings it back
    const vlans = this.#takeVlans(key, trunk, count);
    if (!vlans) return;
    const created = await this.#createAll(ref, trunk, vlans, groups);
    await this.#annotateOrRollBack(pod, trunk, created, groups);
  }

  /** VLANs for the pod, or none at capacity: then it waits for room (or a cool-down at most). */
  #takeVlans(key: string, trunk: NodeTrunk, count: number): number[] | undefined {
    const vlans = trunk.ledger.takeVlans(count);
    if (vlans) return vlans;
    const waiting = this.#waiting.get(trunk.nodeName) ?? new Set<string>();
    waiting.add(key);
    this.#waiting.set(trunk.nodeName, waiting);
    this.#queue.addAfter(key, this.options.coolDownMs());
    return undefined;
  }

  async #annotateOrRollBack(
    pod: PlainObject,
    trunk: NodeTrunk,
    created: BranchEniDetails[],
    groups: readonly string[],
  ): Promise<void> {
    const ref = refOf(pod);
    const text = encodePodEniAnnotation(created);
    try {
      await this.#annotate(pod, text);
    } catch (error) {
      this.options.trunks.releaseNow(trunk.nodeName, created);
      const code = statusCodeOf(error);
      if (code === 404 || code === 422 || code === 409) return; // gone or replaced
      this.options.events.pod(
        ref,
        'Warning',
        'BranchENIAnnotationFailed',
        podEventMessages.annotationFailed(messageOf(error)),
      );
      throw error;
    }
    trunk.ledger.assign(
      ref.uid,
      created.map((details) => ({ details, groups })),
    );
    this.options.events.pod(ref, 'Normal', 'ResourceAllocated', podEventMessages.allocated(text));
  }

  async #createAll(
    ref: PodRef,
    trunk: NodeTrunk,
    vlans: readonly number[],
    groups: readonly string[],
  ): Promise<BranchEniDetails[]> {
    const created: BranchEniDetails[] = [];
    try {
      for (const vlanId of vlans) {
        created.push(
          await createBranch(this.options.gateway, {
            trunkId: trunk.trunkId,
            vlanId,
            groups,
            instance: trunk.instance,
            clusterName: this.options.clusterName,
          }),
        );
      }
      return created;
    } catch (error) {
      const partial = error instanceof BranchAllocationError ? error.created : undefined;
      const made = partial ? [...created, partial] : created;
      for (const vlan of vlans)
        if (!made.some((eni) => eni.vlanId === vlan)) trunk.ledger.freeVlan(vlan);
      this.options.trunks.releaseNow(trunk.nodeName, made);
      this.options.events.pod(
        ref,
        'Warning',
        'BranchAllocationFailed',
        podEventMessages.allocationFailed(messageOf(error)),
      );
      throw error;
    }
  }

  /** Writes the annotation only onto the pod the ENIs were made for (a JSON patch `test` on the UID). */
  async #annotate(pod: PlainObject, text: string): Promise<void> {
    const hasAnnotations = pod.metadata?.annotations !== undefined;
    const body = [
      { op: 'test', path: '/metadata/uid', value: pod.metadata?.uid },
      hasAnnotations
        ? {
            op: 'add',
            path: `/metadata/annotations/${podEniAnnotation.replace('/', '~1')}`,
            value: text,
          }
        : { op: 'add', path: '/metadata/annotations', value: { [podEniAnnotation]: text } },
    ];
    await this.#core.patchNamespacedPod(
      { name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '', body },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
  }

  /** Live policy: the ENIs of a running pod carry the groups it would be given now. */
  async #followPolicy(pod: PlainObject, trunk: NodeTrunk): Promise<void> {
    if (!this.options.behaviour.livePolicy) return;
    const ref = refOf(pod);
    const resolved = await this.options.policies.resolve(pod as Json, ref.namespace);
    if (!resolved.ok) throw new Error(resolved.error);
    const matched = resolved.groupIds.length > 0;
    const wanted = matched ? resolved.groupIds : trunk.instance.instanceGroups;
    const records = trunk.ledger.branchesOf(ref.uid) ?? [];
    let from: readonly string[] | undefined;
    for (const record of records) {
      if (sameGroups(record.groups, wanted)) continue;
      await replaceGroups(this.options.gateway, record.details.eniId, wanted);
      from ??= record.groups;
      record.groups = wanted;
    }
    if (!from) return;
    this.options.logger.info(
      { pod: `${ref.namespace}/${ref.name}`, from, to: wanted },
      'branch ENI groups updated',
    );
    this.options.events.pod(
      ref,
      matched ? 'Normal' : 'Warning',
      'SecurityGroupsUpdated',
      matched
        ? podEventMessages.groupsUpdated(from, wanted)
        : podEventMessages.policyLost(from, wanted),
    );
  }

  /** Self-healing admission: a running pod its policies missed at admission. */
  async #healUnadmitted(pod: PlainObject): Promise<void> {
    const ref = refOf(pod);
    if (
      pod.status?.phase !== 'Running' ||
      pod.metadata?.deletionTimestamp ||
      this.#healed.has(ref.uid) ||
      podPathOf(pod as Json) !== 'linux' ||
      this.options.policies.policiesIn(ref.namespace).length === 0
    )
      return;
    const resolved = await this.options.policies.resolve(pod as Json, ref.namespace);
    if (!resolved.ok || resolved.groupIds.length === 0) return;
    this.#healed.add(ref.uid);
    const recreate = this.options.behaviour.recreateUnadmittedPods && isRecreatable(pod);
    this.options.events.pod(
      ref,
      'Warning',
      'SecurityGroupPolicyNotApplied',
      podEventMessages.unadmitted(resolved.groupIds, recreate),
    );
    if (!recreate) return;
    await this.#core
      .deleteNamespacedPod({
        name: ref.name,
        namespace: ref.namespace,
        body: Object.assign(new V1DeleteOptions(), {
          preconditions: Object.assign(new V1Preconditions(), { uid: ref.uid }),
        }),
      })
      .catch((error: unknown) => {
        if (statusCodeOf(error) !== 404 && statusCodeOf(error) !== 409) throw error;
      });
    this.options.logger.info(
      { pod: `${ref.namespace}/${ref.name}` },
      'unadmitted pod deleted to be made again',
    );
  }
}

/**
 * A pod its controller makes again once deleted — never the controller's own pods: it must stay
 * up to serve the pods it would recreate.
 */
function isRecreatable(pod: PlainObject): boolean {
  const owned = (pod.metadata?.ownerReferences ?? []).some((owner) => owner.controller === true);
  return owned && pod.metadata?.labels?.app !== 'vpc-resource-controller';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
