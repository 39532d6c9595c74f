/**
 * The kubelet of one node: registers the Node (labels, capacity and allocatable, addresses,
 * podCIDR, Ready), renews its Lease in `kube-node-lease` every 10 s, keeps the extended
 * resources of allocatable in line with capacity (another component advertises them there), and
 * runs a pod worker per pod bound to it. After a restart it adopts what the previous kubelet
 * left (pod records under its state directory: sandboxes and containers still running are taken
 * over, those of pods that are gone are removed), so a `kill -9` leaves neither orphans nor
 * duplicates.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import type { ImageCatalogue } from '../../../../adapters/images/image-catalogue.js';
import { Informer } from '../../../../adapters/kube/informer.js';
import {
  isStatus,
  resourcePath,
  type KubeHttpClient,
  type KubeResource,
} from '../../../../adapters/kube/kube-http-client.js';
import { WorkQueue } from '../../../../adapters/kube/work-queue.js';
import {
  extendedAllocatablePatch,
  type ResourceList,
} from '../../../../core/kube/node-allocatable.js';
import { EventRecorder } from '../event-recorder.js';
import type { CniNode } from '../cni/cni-runner.js';
import { ContainerProcess } from './container-process.js';
import { LogTailer } from './log-tailer.js';
import { PodSandbox, podNamespaceOf, type ClusterDns } from './pod-sandbox.js';
import { PodWorker, type PodRecord } from './pod-worker.js';

type Json = Record<string, unknown>;

export const kubeletVersion = 'v1.32.0';
const leaseDurationSeconds = 40;
const leaseRenewMs = 10_000;
const networkPollMs = 500;

/** The taint the node lifecycle controller puts on a node that is not Ready. */
const notReadyTaint = { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' };

/** True once the node's CNI configuration directory holds a network configuration. */
export function cniConfigured(confDir: string): boolean {
  return (
    existsSync(confDir) && readdirSync(confDir).some((name) => /\.(conflist|conf|json)$/.test(name))
  );
}

export interface NodeDescription {
  readonly name: string;
  readonly internalIp: string;
  /** Absent with the VPC CNI: pods take VPC addresses, not a node range. */
  readonly podCidr?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly capacity: Readonly<Record<string, string>>;
  readonly taints?: readonly Json[];
  readonly providerId?: string;
}

export interface KubeletOptions {
  readonly client: KubeHttpClient;
  readonly node: NodeDescription;
  readonly cni: CniNode;
  readonly catalogue: ImageCatalogue;
  /** Per-node state: pod records, raw container output. */
  readonly stateDirectory: string;
  readonly podLogDirectory: string;
  /** The home's kernel-name prefix (pod namespaces carry it). */
  readonly prefix: string;
  readonly dns?: ClusterDns;
  /** The cluster CA, for pods' service-account volumes. */
  readonly clusterCa: string;
  readonly onError: (error: unknown) => void;
}

function microTime(date = new Date()): string {
  return `${date.toISOString().slice(0, 23)}000Z`;
}

export class Kubelet {
  readonly #workers = new Map<string, PodWorker>();
  readonly #events: EventRecorder;
  readonly #tailer = new LogTailer();
  readonly #pods: Informer;
  /** The kubelet's own Node, to follow its capacity. */
  readonly #node: Informer;
  /** One key, the node's name: allocatable syncs run one at a time, retried on failure. */
  readonly #allocatable: WorkQueue;
  #leaseTimer: NodeJS.Timeout | undefined;
  #networkTimer: NodeJS.Timeout | undefined;
  #networkReady = false;
  #closed = false;

  constructor(readonly options: KubeletOptions) {
    this.#events = new EventRecorder(
      options.client,
      { component: 'kubelet', host: options.node.name },
      options.onError,
    );
    const selector = encodeURIComponent(`spec.nodeName=${options.node.name}`);
    this.#pods = new Informer(
      options.client,
      `/api/v1/pods?fieldSelector=${selector}`,
      options.onError,
    );
    const nameSelector = encodeURIComponent(`metadata.name=${options.node.name}`);
    this.#node = new Informer(
      options.client,
      `/api/v1/nodes?fieldSelector=${nameSelector}`,
      options.onError,
    );
    this.#allocatable = new WorkQueue(() => this.#syncAllocatable(), {
      concurrency: 1,
      onError: options.onError,
      maxBackoffMs: 1_000,
    });
  }

  get nodeName(): string {
    return this.options.node.name;
  }

  get #podStateDirectory(): string {
    return join(this.options.stateDirectory, 'pods');
  }

  /** Registers the node, starts the lease, adopts what a previous kubelet left, then follows pods. */
  async start(): Promise<void> {
    this.#networkReady = cniConfigured(this.options.cni.confDir);
    await this.#register();
    if (!this.#networkReady) this.#watchNetwork();
    this.#node.onChange((event) => {
      if (event !== 'deleted' && !this.#closed) this.#allocatable.add(this.nodeName);
    });
    await this.#node.start();
    await this.#renewLease();
    this.#leaseTimer = setInterval(
      () => void this.#renewLease().catch(this.options.onError),
      leaseRenewMs,
    );
    this.#pods.onChange((event, pod) => {
      this.#podChanged(event, pod);
    });
    await this.#pods.start();
    await this.#adoptLeftovers();
  }

  /**
   * Until a CNI configuration appears (the network add-on installs it), the node is NotReady
   * and tainted, as the kubelet and the node lifecycle controller make it; then Ready.
   */
  #watchNetwork(): void {
    this.#networkTimer = setInterval(() => {
      if (this.#closed || !cniConfigured(this.options.cni.confDir)) return;
      clearInterval(this.#networkTimer);
      this.#networkReady = true;
      void this.#register().catch(this.options.onError);
    }, networkPollMs);
  }

  #nodeBody(): Json {
    const { node } = this.options;
    const taints = [...(node.taints ?? []), ...(this.#networkReady ? [] : [notReadyTaint])];
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: node.name,
        labels: {
          'kubernetes.io/hostname': node.name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'beta.kubernetes.io/os': 'linux',
          'beta.kubernetes.io/arch': 'amd64',
          ...node.labels,
        },
        annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
      },
      spec: {
        ...(node.podCidr ? { podCIDR: node.podCidr, podCIDRs: [node.podCidr] } : {}),
        ...(node.providerId ? { providerID: node.providerId } : {}),
        // A merge patch replaces the list: null clears a not-ready taint once the node is ready.
        taints: taints.length > 0 ? taints : null,
      },
    };
  }

  #nodeStatus(): Json {
    const { node } = this.options;
    const now = `${new Date().toISOString().slice(0, 19)}Z`;
    const condition = (type: string, status: string, reason: string, message: string) => ({
      type,
      status,
      lastHeartbeatTime: now,
      lastTransitionTime: now,
      reason,
      message,
    });
    return {
      capacity: node.capacity,
      allocatable: node.capacity,
      conditions: [
        condition(
          'MemoryPressure',
          'False',
          'KubeletHasSufficientMemory',
          'kubelet has sufficient memory available',
        ),
        condition(
          'DiskPressure',
          'False',
          'KubeletHasNoDiskPressure',
          'kubelet has no disk pressure',
        ),
        condition(
          'PIDPressure',
          'False',
          'KubeletHasSufficientPID',
          'kubelet has sufficient PID available',
        ),
        this.#networkReady
          ? condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status')
          : condition(
              'Ready',
              'False',
              'KubeletNotReady',
              'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized',
            ),
      ],
      addresses: [
        { type: 'InternalIP', address: node.internalIp },
        { type: 'Hostname', address: node.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: '',
        systemUUID: '',
        bootID: '',
        kernelVersion: release(),
        osImage: 'sgpods node (Debian GNU/Linux 12)',
        containerRuntimeVersion: 'sgpods://0.1.0',
        kubeletVersion,
        kubeProxyVersion: kubeletVersion,
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    };
  }

  async #register(): Promise<void> {
    const path = resourcePath('v1', 'nodes', undefined, this.nodeName);
    try {
      const body = this.#nodeBody();
      const spec = body.spec as Json;
      // Created without an empty taint list (null only means "clear" in a merge patch).
      await this.options.client.create(resourcePath('v1', 'nodes'), {
        ...body,
        spec: { ...spec, taints: spec.taints ?? undefined },
      });
    } catch (error) {
      if (!isStatus(error, 'AlreadyExists')) throw error;
      const body = this.#nodeBody();
      await this.options.client.mergePatch(path, { metadata: body.metadata, spec: body.spec });
    }
    // Capacity is merged, so extended resources another component advertises stay.
    await this.options.client.mergePatch(`${path}/status`, { status: this.#nodeStatus() });
  }

  /**
   * As the kubelet's node-status setter: every extended resource of capacity (the VPC resource
   * controller advertises `vpc.amazonaws.com/pod-eni` there) is allocatable, and one gone from
   * capacity is not. Patches only when they differ, so its own update changes nothing more.
   */
  async #syncAllocatable(): Promise<void> {
    const node = this.#node.get(this.nodeName);
    if (this.#closed || !node) return;
    const status = (node.status ?? {}) as Json;
    const patch = extendedAllocatablePatch(
      status.capacity as ResourceList | undefined,
      status.allocatable as ResourceList | undefined,
    );
    if (!patch) return;
    const path = resourcePath('v1', 'nodes', undefined, this.nodeName, 'status');
    try {
      await this.options.client.mergePatch(path, { status: { allocatable: patch } });
    } catch (error) {
      if (!isStatus(error, 'NotFound')) throw error;
    }
  }

  async #renewLease(): Promise<void> {
    if (this.#closed) return;
    const path = resourcePath('coordination.k8s.io/v1', 'leases', 'kube-node-lease', this.nodeName);
    const spec = {
      holderIdentity: this.nodeName,
      leaseDurationSeconds,
      renewTime: microTime(),
    };
    try {
      await this.options.client.mergePatch(path, { spec });
    } catch (error) {
      if (!isStatus(error, 'NotFound')) throw error;
      await this.options.client.create(
        resourcePath('coordination.k8s.io/v1', 'leases', 'kube-node-lease'),
        {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: this.nodeName,
            namespace: 'kube-node-lease',
            ownerReferences: [],
          },
          spec,
        },
      );
    }
  }

  #context() {
    return {
      client: this.options.client,
      events: this.#events,
      nodeName: this.nodeName,
      nodeIp: this.options.node.internalIp,
      sandboxNode: {
        cni: this.options.cni,
        ...(this.options.dns ? { dns: this.options.dns } : {}),
      },
      catalogue: this.options.catalogue,
      tailer: this.#tailer,
      podLogDirectory: this.options.podLogDirectory,
      podStateDirectory: this.#podStateDirectory,
      memoryCgroupParent: join('sgpods', this.options.prefix),
      clusterCa: this.options.clusterCa,
      onError: this.options.onError,
      onGone: (uid: string) => this.#workers.delete(uid),
    };
  }

  #podChanged(event: 'added' | 'updated' | 'deleted', pod: KubeResource): void {
    if (this.#closed) return;
    const uid = pod.metadata.uid ?? '';
    const worker = this.#workers.get(uid);
    if (event === 'deleted') {
      // Deleted without waiting for us (force, or never graceful): stop what runs.
      void worker?.terminate(1, false).catch(this.options.onError);
      return;
    }
    if (worker) {
      worker.update(pod);
      return;
    }
    if (!this.#adopted) return; // adoption creates the workers of the first list
    this.#startWorker(pod, undefined);
  }

  #adopted = false;

  #startWorker(pod: KubeResource, record: PodRecord | undefined): void {
    const uid = pod.metadata.uid ?? '';
    const worker = new PodWorker(
      this.#context(),
      pod,
      podNamespaceOf(this.options.prefix, uid),
      record,
    );
    this.#workers.set(uid, worker);
    worker.kick();
  }

  #records(): PodRecord[] {
    const directory = this.#podStateDirectory;
    if (!existsSync(directory)) return [];
    const records: PodRecord[] = [];
    for (const uid of readdirSync(directory)) {
      const path = join(directory, uid, 'record.json');
      try {
        records.push(JSON.parse(readFileSync(path, 'utf8')) as PodRecord);
      } catch {
        rmSync(join(directory, uid), { recursive: true, force: true });
      }
    }
    return records;
  }

  async #adoptLeftovers(): Promise<void> {
    const pods = new Map(this.#pods.list().map((pod) => [pod.metadata.uid ?? '', pod]));
    for (const record of this.#records()) {
      const pod = pods.get(record.uid);
      if (pod) {
        this.#startWorker(pod, record);
        continue;
      }
      await this.#removeLeftover(record);
    }
    this.#adopted = true;
    for (const pod of pods.values()) {
      if (!this.#workers.has(pod.metadata.uid ?? '')) this.#startWorker(pod, undefined);
    }
  }

  /** A pod that went while no kubelet ran: kill its containers, remove its sandbox and files. */
  async #removeLeftover(record: PodRecord): Promise<void> {
    for (const saved of Object.values(record.containers)) {
      ContainerProcess.adopt(saved, join(this.#podStateDirectory, record.uid, 'gone.exit'))?.signal(
        'SIGKILL',
      );
    }
    const hostAddress = record.hostNetwork ? this.options.node.internalIp : undefined;
    await new PodSandbox(record.netns, record.sandboxId, hostAddress)
      .destroy(
        { cni: this.options.cni },
        { namespace: record.namespace, name: record.name, uid: record.uid },
      )
      .catch(this.options.onError);
    rmSync(join(this.#podStateDirectory, record.uid), { recursive: true, force: true });
    rmSync(join(this.options.podLogDirectory, `${record.namespace}_${record.name}_${record.uid}`), {
      recursive: true,
      force: true,
    });
  }

  /** The namespaces of the pods this kubelet runs (for sweeping orphans across nodes). */
  podNamespaces(): string[] {
    return [...this.#workers.values()].map((worker) => worker.netns);
  }

  /** The CNI container ids of the sandboxes this kubelet runs. */
  sandboxIds(): string[] {
    return [...this.#workers.values()].map((worker) => worker.sandboxId);
  }

  /**
   * The node is going away (its instance was terminated): every pod's containers are stopped
   * and its sandbox removed, then the kubelet closes.
   */
  async shutdown(graceSeconds: number): Promise<void> {
    await Promise.all(
      [...this.#workers.values()].map((worker) =>
        worker.terminate(graceSeconds, false).catch(this.options.onError),
      ),
    );
    await this.close();
  }

  /** Stops following; containers keep running for the next kubelet to adopt. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#leaseTimer);
    clearInterval(this.#networkTimer);
    this.#pods.stop();
    this.#node.stop();
    this.#allocatable.close();
    await Promise.all(
      [...this.#workers.values()].map((worker) => worker.settled.catch(() => undefined)),
    );
    for (const worker of this.#workers.values()) worker.detach();
    this.#tailer.close();
  }
}
