/**
 * The node side of branch ENIs (rc.md §4.6, §4.9, §5): which nodes are managed, their trunk
 * (reused or made), the `vpc.amazonaws.com/pod-eni` capacity, the upstream node events, each
 * trunk's ledger rebuilt from pod annotations and EC2 tags at start (ENIs no running pod refers
 * to are queued for deletion: no `kill -9` leaks one), the delete queue worked as ENIs finish
 * their cool-down, a periodic check of the ledger against the pods, and, a minute after a node
 * is gone or no longer managed, every branch ENI it had deleted at once.
 */
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { WorkQueue } from '../adapters/kube/work-queue.js';
import { isSgpManagedNode, nodeEventMessages } from '../core/controller/branch-eni.js';
import { TrunkLedger, type QueuedDeletion } from '../core/controller/trunk-ledger.js';
import { instanceTypeLimits } from '../core/instance-types/instance-types.js';
import { podEniResource } from '../core/controller/pod-admission.js';
import {
  decodePodEniAnnotation,
  podEniAnnotation,
  type BranchEniDetails,
} from '../core/policy/pod-eni-annotation.js';
import type { ClusterInformers, PlainObject } from './cluster-informers.js';
import type { ControllerEvents } from './controller-events.js';
import { awsErrorCode, type Ec2Gateway } from './ec2-gateway.js';
import type { Logger } from './logger.js';
import {
  branchesOfTrunk,
  createTrunk,
  deleteBranch,
  describeInstanceNetwork,
  highestFreeDeviceIndex,
  waitAttached,
  type InstanceNetwork,
} from './trunk-eni-calls.js';

export interface NodeTrunk {
  readonly nodeName: string;
  readonly instance: InstanceNetwork;
  readonly trunkId: string;
  readonly ledger: TrunkLedger;
}

export interface TrunkNodesOptions {
  readonly config: KubeConfig;
  readonly informers: ClusterInformers;
  readonly gateway: Ec2Gateway;
  readonly events: ControllerEvents;
  readonly logger: Logger;
  readonly clusterName: string;
  readonly version: string;
  /** The current cool-down (ms). */
  readonly coolDownMs: () => number;
  /** A node's trunk is ready: its pods can be served. */
  readonly onNodeReady: (nodeName: string) => void;
  /** ENIs of a node were deleted: pods waiting for room can try again. */
  readonly onRoomMade: (nodeName: string) => void;
  /** How long a gone or unmanaged node's ENIs are kept before deletion (upstream: 1 min). */
  readonly nodeGoneDelayMs?: number;
}

type NodeState =
  | { readonly kind: 'unsupported'; readonly instanceType: string }
  | { readonly kind: 'ready'; readonly trunk: NodeTrunk };

const leakCheckFirstMs = 60_000;
const leakCheckMaxMs = 15 * 60_000;

const isCompleted = (pod: PlainObject) =>
  pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

function instanceIdOfNode(node: PlainObject): string | undefined {
  const providerId = node.spec?.providerID;
  const id = typeof providerId === 'string' ? providerId.split('/').pop() : undefined;
  return id && /^i-[0-9a-f]{8,17}$/.test(id) ? id : undefined;
}

function featuresOf(cniNode: PlainObject | undefined): string[] {
  const features = (cniNode?.spec?.features ?? []) as { name?: string }[];
  return features.map((feature) => feature.name ?? '');
}

export class TrunkNodes {
  readonly #states = new Map<string, NodeState>();
  readonly #queue: WorkQueue;
  readonly #core: CoreV1Api;
  readonly #deleteTimers = new Map<string, NodeJS.Timeout>();
  readonly #deleting = new Set<string>();
  readonly #goneTimers = new Map<string, NodeJS.Timeout>();
  readonly #leakTimers = new Map<string, { timer: NodeJS.Timeout; intervalMs: number }>();
  #stopped = false;

  constructor(private readonly options: TrunkNodesOptions) {
    this.#core = options.config.makeApiClient(CoreV1Api);
    this.#queue = new WorkQueue((name) => this.#sync(name), {
      concurrency: 10,
      maxBackoffMs: 30_000,
      onError: (error, name) => {
        options.logger.warn({ node: name, err: error }, 'node: sync failed; retrying');
      },
    });
  }

  /** Starts following nodes (the informers must have synced: pods are read at trunk init). */
  start(): void {
    const { informers } = this.options;
    informers.onNode((node) => {
      this.#queue.add(node.metadata?.name ?? '');
    });
    informers.onCniNode((cniNode) => {
      this.#queue.add(cniNode.metadata?.name ?? '');
    });
    for (const node of informers.nodes()) this.#queue.add(node.metadata?.name ?? '');
  }

  stop(): void {
    this.#stopped = true;
    this.#queue.close();
    for (const timer of [...this.#deleteTimers.values(), ...this.#goneTimers.values()])
      clearTimeout(timer);
    for (const { timer } of this.#leakTimers.values()) clearTimeout(timer);
  }

  /** The node's trunk when it is ready for branch ENIs. */
  trunkOf(nodeName: string): NodeTrunk | undefined {
    const state = this.#states.get(nodeName);
    return state?.kind === 'ready' ? state.trunk : undefined;
  }

  /** A pod's ENIs start their cool-down. */
  release(nodeName: string, uid: string): void {
    const trunk = this.trunkOf(nodeName);
    if (!trunk || trunk.ledger.release(uid, Date.now()).length === 0) return;
    this.scheduleDeletes(nodeName);
  }

  /** ENIs of a failed allocation: deleted now, before anything else. */
  releaseNow(nodeName: string, enis: readonly BranchEniDetails[]): void {
    const trunk = this.trunkOf(nodeName);
    if (!trunk || enis.length === 0) return;
    trunk.ledger.releaseNow(enis);
    this.scheduleDeletes(nodeName);
  }

  async #sync(name: string): Promise<void> {
    if (this.#stopped || name === '') return;
    const { informers } = this.options;
    const node = informers.node(name);
    const managed =
      node !== undefined &&
      isSgpManagedNode({
        labels: node.metadata?.labels ?? {},
        instanceId: instanceIdOfNode(node),
        cniNodeFeatures: featuresOf(informers.cniNode(name)),
      });
    const state = this.#states.get(name);
    if (!managed) {
      if (state) this.#scheduleGone(name);
      return;
    }
    clearTimeout(this.#goneTimers.get(name));
    this.#goneTimers.delete(name);
    if (!state) {
      await this.#init(name, node);
      return;
    }
    if (state.kind === 'ready') await this.#advertise(node, state.trunk.ledger.branchLimit);
  }

  async #init(name: string, node: PlainObject): Promise<void> {
    const { events, gateway } = this.options;
    const instanceId = instanceIdOfNode(node) ?? '';
    events.node(
      name,
      'Normal',
      'ControllerVersionNotice',
      nodeEventMessages.versionNotice(this.options.version),
    );
    const instance = await describeInstanceNetwork(gateway, instanceId);
    const limits = instanceTypeLimits(instance.instanceType);
    if (!limits) {
      events.node(
        name,
        'Warning',
        'Unsupported',
        nodeEventMessages.unknownType(instance.instanceType),
      );
      return; // not cached: looked at again on the node's next event
    }
    if (!limits.trunking || limits.branchInterfaces === 0) {
      events.node(
        name,
        'Warning',
        'Unsupported',
        nodeEventMessages.noTrunking(instance.instanceType),
      );
      this.#states.set(name, { kind: 'unsupported', instanceType: instance.instanceType });
      return;
    }
    let trunkId: string;
    try {
      trunkId = await this.#ensureTrunk(instance, limits.maxEnis);
    } catch (error) {
      const code = awsErrorCode(error);
      if (code)
        events.node(
          name,
          'Warning',
          'TrunkENICreationFailed',
          nodeEventMessages.trunkCreationFailed(code),
        );
      events.node(name, 'Normal', 'NodeTrunkFailedInit', nodeEventMessages.trunkFailedInit);
      throw error;
    }
    const trunk: NodeTrunk = {
      nodeName: name,
      instance,
      trunkId,
      ledger: new TrunkLedger(limits.branchInterfaces),
    };
    await this.#rebuild(trunk);
    this.#states.set(name, { kind: 'ready', trunk });
    events.node(name, 'Normal', 'NodeTrunkInitiated', nodeEventMessages.trunkInitiated);
    this.options.logger.info({ node: name, trunk: trunkId, instance: instanceId }, 'trunk ready');
    this.scheduleDeletes(name);
    this.#scheduleLeakCheck(name, leakCheckFirstMs);
    await this.#advertise(node, limits.branchInterfaces);
    this.options.onNodeReady(name);
  }

  async #ensureTrunk(instance: InstanceNetwork, maxEnis: number): Promise<string> {
    const existing = instance.interfaces.find((each) => each.interfaceType === 'trunk');
    if (existing) {
      if (existing.attachmentStatus !== 'attached')
        await waitAttached(this.options.gateway, existing.networkInterfaceId);
      return existing.networkInterfaceId;
    }
    const deviceIndex = highestFreeDeviceIndex(instance.interfaces, maxEnis);
    if (deviceIndex === undefined)
      throw new Error(`instance ${instance.instanceId} has no free device index for a trunk`);
    return createTrunk(this.options.gateway, instance, {
      clusterName: this.options.clusterName,
      deviceIndex,
    });
  }

  /**
   * The ledger from what exists: the annotations of the node's running pods, and the trunk's
   * branch ENIs in EC2 (by tag); ENIs no running pod refers to are queued for deletion.
   */
  async #rebuild(trunk: NodeTrunk): Promise<void> {
    const inEc2 = await branchesOfTrunk(this.options.gateway, trunk.trunkId, trunk.instance);
    const groupsOf = new Map(inEc2.map((eni) => [eni.details.eniId, eni.groups]));
    const referenced = new Set<string>();
    for (const pod of this.options.informers.podsOnNode(trunk.nodeName)) {
      const text = pod.metadata?.annotations?.[podEniAnnotation];
      if (!text || isCompleted(pod)) continue;
      let enis: BranchEniDetails[];
      try {
        enis = decodePodEniAnnotation(text);
      } catch {
        continue;
      }
      for (const eni of enis) referenced.add(eni.eniId);
      trunk.ledger.assign(
        pod.metadata.uid ?? '',
        enis.map((details) => ({ details, groups: groupsOf.get(details.eniId) ?? [] })),
      );
    }
    const now = Date.now();
    for (const eni of inEc2) {
      if (referenced.has(eni.details.eniId)) continue;
      trunk.ledger.queueOrphan(eni.details, now);
      this.options.logger.info(
        { node: trunk.nodeName, eni: eni.details.eniId },
        'branch ENI without a running pod: queued for deletion',
      );
    }
  }

  async #advertise(node: PlainObject, limit: number): Promise<void> {
    const capacity = (node.status?.capacity ?? {}) as Record<string, string>;
    if (capacity[podEniResource] === String(limit)) return;
    await this.#core.patchNodeStatus(
      {
        name: node.metadata?.name ?? '',
        body: { status: { capacity: { [podEniResource]: String(limit) } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** Works the node's delete queue when its next ENI finishes cooling down (and every 30 s). */
  scheduleDeletes(nodeName: string): void {
    const trunk = this.trunkOf(nodeName);
    if (!trunk || this.#stopped) return;
    clearTimeout(this.#deleteTimers.get(nodeName));
    const next = trunk.ledger.nextDueAt(this.options.coolDownMs());
    if (next === undefined) return;
    const delay = Math.min(Math.max(0, next - Date.now()), 30_000);
    this.#deleteTimers.set(
      nodeName,
      setTimeout(() => {
        this.#deleteTimers.delete(nodeName);
        void this.#workDeletes(trunk);
      }, delay),
    );
  }

  async #workDeletes(trunk: NodeTrunk): Promise<void> {
    const name = trunk.nodeName;
    if (this.#deleting.has(name)) return;
    this.#deleting.add(name);
    let deleted = 0;
    let failed = false;
    try {
      const due = trunk.ledger.takeDue(Date.now(), this.options.coolDownMs());
      for (const deletion of due) {
        if (await this.#deleteOne(trunk, deletion)) deleted += 1;
        else failed = true;
      }
    } finally {
      this.#deleting.delete(name);
    }
    if (deleted > 0) this.options.onRoomMade(name);
    if (failed) {
      // Retried after a pause rather than at once (throttling is the usual cause).
      this.#deleteTimers.set(
        name,
        setTimeout(() => {
          this.#deleteTimers.delete(name);
          void this.#workDeletes(trunk);
        }, 2_000),
      );
    } else this.scheduleDeletes(name);
  }

  async #deleteOne(trunk: NodeTrunk, deletion: QueuedDeletion): Promise<boolean> {
    try {
      await deleteBranch(this.options.gateway, deletion.eni);
      trunk.ledger.deleted(deletion);
      this.options.logger.info(
        { node: trunk.nodeName, eni: deletion.eni.eniId, vlan: deletion.eni.vlanId },
        'branch ENI deleted',
      );
      return true;
    } catch (error) {
      const outcome = trunk.ledger.deleteFailed(deletion);
      this.options.logger.warn(
        { node: trunk.nodeName, eni: deletion.eni.eniId, err: error, outcome },
        'branch ENI not deleted',
      );
      return false;
    }
  }

  /**
   * The ledger against the pods (rc.md §4.9-2): ENIs of pods that are gone or completed are
   * released. Every minute after start or a finding, up to every 15 minutes while clean.
   */
  #scheduleLeakCheck(nodeName: string, intervalMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#leakTimers.get(nodeName)?.timer);
    const timer = setTimeout(() => {
      const trunk = this.trunkOf(nodeName);
      if (!trunk) return;
      const live = new Set(
        this.options.informers
          .podsOnNode(nodeName)
          .filter((pod) => !isCompleted(pod))
          .map((pod) => pod.metadata?.uid ?? ''),
      );
      const leaked = trunk.ledger.podUids().filter((uid) => !live.has(uid));
      for (const uid of leaked) this.release(nodeName, uid);
      if (leaked.length > 0)
        this.options.logger.info({ node: nodeName, pods: leaked }, 'released ENIs of gone pods');
      this.#scheduleLeakCheck(
        nodeName,
        leaked.length > 0 ? leakCheckFirstMs : Math.min(intervalMs * 2, leakCheckMaxMs),
      );
    }, intervalMs);
    this.#leakTimers.set(nodeName, { timer, intervalMs });
  }

  /** A gone or unmanaged node's ENIs are deleted after a grace period (evictions settle). */
  #scheduleGone(nodeName: string): void {
    if (this.#goneTimers.has(nodeName) || this.#stopped) return;
    this.#goneTimers.set(
      nodeName,
      setTimeout(() => {
        this.#goneTimers.delete(nodeName);
        void this.#forget(nodeName);
      }, this.options.nodeGoneDelayMs ?? 60_000),
    );
  }

  async #forget(nodeName: string): Promise<void> {
    const state = this.#states.get(nodeName);
    this.#states.delete(nodeName);
    clearTimeout(this.#deleteTimers.get(nodeName));
    clearTimeout(this.#leakTimers.get(nodeName)?.timer);
    this.#leakTimers.delete(nodeName);
    if (state?.kind !== 'ready') return;
    for (const deletion of state.trunk.ledger.drainAll()) {
      await deleteBranch(this.options.gateway, deletion.eni).catch((error: unknown) => {
        this.options.logger.warn(
          { node: nodeName, eni: deletion.eni.eniId, err: error },
          'branch ENI of a gone node not deleted (the leak collector retries)',
        );
      });
    }
    // Back under management meanwhile: start again from what exists.
    if (this.options.informers.node(nodeName)) this.#queue.add(nodeName);
  }
}
