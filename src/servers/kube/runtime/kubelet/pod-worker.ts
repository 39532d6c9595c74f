/**
 * One pod on one node, from sandbox to deletion — the kubelet's pod worker: creates the sandbox
 * (retried with backoff, `FailedCreatePodSandBox`), starts each container from the image
 * catalogue (`ErrImagePull` / `ImagePullBackOff` for unknown images, `CreateContainerConfigError`
 * for missing Secrets and ConfigMaps), restarts them per restartPolicy with the kubelet's
 * CrashLoopBackOff (10 s doubling to 5 min, reset after 10 min of running), runs their probes,
 * reports status and events, and on deletion stops them (SIGTERM, SIGKILL after the grace
 * period), removes the sandbox and finally deletes the pod object.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageCatalogue } from '../../../../adapters/images/image-catalogue.js';
import {
  isStatus,
  resourcePath,
  type KubeHttpClient,
  type KubeResource,
} from '../../../../adapters/kube/kube-http-client.js';
import { killProcessesIn } from '../../../../adapters/netns/sweep.js';
import type { PidRecord } from '../../../../adapters/process/pid-file.js';
import {
  containerArgv,
  containerEnvironment,
  type EnvSources,
} from '../../../../core/kube/container-env.js';
import { parseImageReference, qualifiedImageName } from '../../../../core/kube/image-reference.js';
import {
  podConditions,
  podPhaseOf,
  restarts,
  type ContainerState,
  type ContainerView,
  type RestartPolicy,
} from '../../../../core/kube/pod-status.js';
import { parseQuantity } from '../../../../core/kube/quantity.js';
import { serviceLinkEnv } from '../../../../core/kube/services.js';
import type { Condition } from '../../../../core/kube/workloads.js';
import type { EventRecorder } from '../event-recorder.js';
import {
  ContainerProcess,
  removeMemoryCgroup,
  type BindMount,
  type ContainerExit,
  type SavedProcesses,
} from './container-process.js';
import type { LogTailer } from './log-tailer.js';
import { PodSandbox, type SandboxNode } from './pod-sandbox.js';
import { runProbe } from './probes.js';

type Json = Record<string, unknown>;

const maxBackoffSeconds = 300;
const backoffResetMs = 10 * 60 * 1000;
const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Where in-cluster clients find their credentials (/var/run is /run on Debian). */
const serviceAccountMountPath = '/run/secrets/kubernetes.io/serviceaccount';

export interface WorkerContext {
  readonly client: KubeHttpClient;
  readonly events: EventRecorder;
  readonly nodeName: string;
  readonly nodeIp: string;
  readonly sandboxNode: SandboxNode;
  readonly catalogue: ImageCatalogue;
  readonly tailer: LogTailer;
  readonly podLogDirectory: string;
  readonly podStateDirectory: string;
  readonly memoryCgroupParent: string;
  /** The cluster CA (ca.crt of the service-account volume). */
  readonly clusterCa: string;
  readonly onError: (error: unknown) => void;
  readonly onGone: (uid: string) => void;
}

interface SavedContainer extends SavedProcesses {
  readonly containerId: string;
  readonly restartCount: number;
  readonly startedAt?: string;
  readonly hasRun: boolean;
  readonly lastState?: ContainerState;
  readonly state?: ContainerState;
}

/** What survives a kubelet restart (`<state>/pods/<uid>/record.json`). */
export interface PodRecord {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly netns: string;
  readonly sandboxId: string;
  /** The pod shares its node's namespace: never remove `netns`. */
  readonly hostNetwork?: boolean;
  readonly ip?: string;
  readonly startTime: string;
  readonly containers: Readonly<Record<string, SavedContainer>>;
}

interface ContainerRun {
  readonly name: string;
  spec: Json;
  state: ContainerState;
  lastState?: ContainerState;
  hasRun: boolean;
  ready: boolean;
  started: boolean;
  restartCount: number;
  containerId: string;
  process?: ContainerProcess;
  /** The running container's init on the host, kept so a kubelet after a crash finds it. */
  init?: PidRecord;
  backoffSeconds: number;
  backoffUntil: number;
  pullFailures: number;
  timers: NodeJS.Timeout[];
}

function stamp(date = new Date()): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

function restartPolicyOf(pod: KubeResource): RestartPolicy {
  const policy = (pod.spec as Json | undefined)?.restartPolicy;
  return policy === 'Never' || policy === 'OnFailure' ? policy : 'Always';
}

function qosClass(containers: readonly Json[]): string {
  let any = false;
  let guaranteed = true;
  for (const container of containers) {
    const resources = (container.resources ?? {}) as Json;
    const requests = (resources.requests ?? {}) as Record<string, string>;
    const limits = (resources.limits ?? {}) as Record<string, string>;
    if (Object.keys(requests).length > 0 || Object.keys(limits).length > 0) any = true;
    for (const resource of ['cpu', 'memory']) {
      const limit = limits[resource];
      if (!limit || (requests[resource] ?? limit) !== limit) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function stateJson(state: ContainerState, containerId: string): Json {
  switch (state.kind) {
    case 'waiting':
      return {
        waiting: { reason: state.reason, ...(state.message ? { message: state.message } : {}) },
      };
    case 'running':
      return { running: { startedAt: state.startedAt } };
    case 'terminated':
      return {
        terminated: {
          exitCode: state.exitCode,
          reason: state.reason,
          startedAt: state.startedAt,
          finishedAt: state.finishedAt,
          containerID: `containerd://${containerId}`,
        },
      };
  }
}

/** A container's run as the pod starts (or as a previous kubelet left it). */
function initialRun(spec: Json, kept: SavedContainer | undefined): ContainerRun {
  return {
    name: String(spec.name),
    spec,
    state: kept?.state ?? { kind: 'waiting', reason: 'ContainerCreating' },
    ...(kept?.lastState ? { lastState: kept.lastState } : {}),
    hasRun: kept?.hasRun ?? false,
    ready: false,
    started: false,
    restartCount: kept?.restartCount ?? 0,
    containerId: kept?.containerId ?? newContainerId(),
    backoffSeconds: 0,
    backoffUntil: 0,
    pullFailures: 0,
    timers: [],
  };
}

function decodedSecret(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data).map(([key, value]) => [
      key,
      Buffer.from(value, 'base64').toString('utf8'),
    ]),
  );
}

function imageOf(run: ContainerRun): string {
  return typeof run.spec.image === 'string' ? run.spec.image : '';
}

export class PodWorker {
  readonly #runs = new Map<string, ContainerRun>();
  readonly #sandbox: PodSandbox;
  #pod: KubeResource;
  #ip: string | undefined;
  #sandboxReady = false;
  #sandboxFailures = 0;
  #sandboxRetryAt = 0;
  #startTime: string;
  #terminating: Promise<void> | undefined;
  #syncing: Promise<void> = Promise.resolve();
  #orphansToKill = false;
  #dirty = false;
  #running = false;
  #lastReported = '';
  #kickTimer: NodeJS.Timeout | undefined;
  #kickAt = 0;
  #closed = false;

  constructor(
    readonly context: WorkerContext,
    pod: KubeResource,
    netns: string,
    saved?: PodRecord,
  ) {
    this.#pod = pod;
    const hostNetwork = (pod.spec as Json | undefined)?.hostNetwork === true;
    this.#sandbox = hostNetwork
      ? new PodSandbox(
          context.sandboxNode.cni.namespace,
          saved?.sandboxId ?? newContainerId(),
          context.nodeIp,
        )
      : new PodSandbox(saved?.netns ?? netns, saved?.sandboxId ?? newContainerId());
    this.#startTime = saved?.startTime ?? stamp();
    this.#ip = saved?.ip;
    for (const spec of this.#containerSpecs()) {
      const run = initialRun(spec, saved?.containers[String(spec.name)]);
      this.#runs.set(run.name, run);
    }
    if (saved) this.#adopt(saved);
  }

  get uid(): string {
    return this.#pod.metadata.uid ?? '';
  }

  get sandboxId(): string {
    return this.#sandbox.containerId;
  }

  get netns(): string {
    return this.#sandbox.netns;
  }

  #containerSpecs(): Json[] {
    return (((this.#pod.spec ?? {}) as Json).containers ?? []) as Json[];
  }

  get #stateDirectory(): string {
    return join(this.context.podStateDirectory, this.uid);
  }

  get #logDirectory(): string {
    const { namespace = '', name = '' } = this.#pod.metadata;
    return join(this.context.podLogDirectory, `${namespace}_${name}_${this.uid}`);
  }

  #adopt(saved: PodRecord): void {
    this.#sandboxReady = existsSync(`/run/netns/${this.#sandbox.netns}`) && saved.ip !== undefined;
    let lost = false;
    let adopted = false;
    for (const [name, kept] of Object.entries(saved.containers)) {
      const run = this.#runs.get(name);
      if (!run || kept.state?.kind !== 'running') continue;
      const process = ContainerProcess.adopt(kept, this.#exitPath(run), this.#cgroupOf(run));
      lost ||= !process;
      adopted ||= process !== undefined;
      if (!process) continue;
      run.process = process;
      run.started = true;
      run.ready = !run.spec.readinessProbe;
      this.#followLogs(run);
      this.#watchExit(run, process);
      this.#startProbes(run);
      // A kubelet killed right after starting it may not have saved the init yet.
      if (kept.init) run.init = kept.init;
      else this.#recordInit(run, process);
    }
    // A container recorded running that can be followed neither by its launcher nor by its init
    // (killed before the init was saved) may still run: with nothing of the pod adopted, whatever
    // runs in its own network namespace is that, and goes before anything starts again.
    this.#orphansToKill = lost && !adopted && saved.hostNetwork !== true;
  }

  /** Takes the newest version of the pod and works towards it. */
  update(pod: KubeResource): void {
    this.#pod = pod;
    this.kick();
  }

  kick(delayMs = 0): void {
    if (this.#closed) return;
    if (delayMs > 0) {
      // The earliest wake-up wins: a later, longer delay must not postpone a retry already due.
      const at = Date.now() + delayMs;
      if (this.#kickTimer && this.#kickAt <= at) return;
      clearTimeout(this.#kickTimer);
      this.#kickAt = at;
      this.#kickTimer = setTimeout(() => {
        this.#kickTimer = undefined;
        this.kick();
      }, delayMs);
      return;
    }
    this.#dirty = true;
    if (this.#running) return;
    this.#running = true;
    this.#syncing = this.#loop();
  }

  async #loop(): Promise<void> {
    try {
      while (this.#dirty && !this.#closed) {
        this.#dirty = false;
        try {
          await this.#sync();
        } catch (error) {
          if (!isStatus(error, 'NotFound')) this.context.onError(error);
          this.kick(1000);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  async #sync(): Promise<void> {
    if (this.#terminating) return;
    if (this.#pod.metadata.deletionTimestamp) {
      await this.terminate(this.#pod.metadata.deletionGracePeriodSeconds ?? 30, true);
      return;
    }
    const phase = this.#phase();
    const finished = phase === 'Succeeded' || phase === 'Failed';
    if (!finished && !this.#sandboxReady && !(await this.#ensureSandbox())) {
      await this.#report();
      return;
    }
    if (!finished) {
      if (this.#orphansToKill) {
        this.#orphansToKill = false;
        await killProcessesIn(this.#sandbox.netns).catch(this.context.onError);
      }
      for (const run of this.#runs.values()) await this.#ensureContainer(run);
    }
    if (finished && this.#sandboxReady) await this.#teardownSandbox();
    await this.#report();
  }

  #podRef(): KubeResource {
    return { ...this.#pod, apiVersion: 'v1', kind: 'Pod' };
  }

  #event(type: 'Normal' | 'Warning', reason: string, message: string, run?: ContainerRun): void {
    this.context.events.record(
      this.#podRef(),
      type,
      reason,
      message,
      run ? `spec.containers{${run.name}}` : undefined,
    );
  }

  async #ensureSandbox(): Promise<boolean> {
    if (Date.now() < this.#sandboxRetryAt) {
      this.kick(this.#sandboxRetryAt - Date.now());
      return false;
    }
    const { namespace = 'default', name = '' } = this.#pod.metadata;
    // The record names the sandbox before CNI ADD runs: a kubelet killed during ADD (the plugin
    // finishes without it) leaves the next one a sandbox id to DEL or to ADD again, not a
    // namespace and plugin state that nobody knows.
    this.#save();
    try {
      this.#ip = await this.#sandbox.create(this.context.sandboxNode, {
        namespace,
        name,
        uid: this.uid,
        spec: (this.#pod.spec ?? {}) as Json,
      });
      this.#sandboxReady = true;
      this.#sandboxFailures = 0;
      this.#save();
      return true;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.#sandbox
        .destroy(this.context.sandboxNode, { namespace, name, uid: this.uid })
        .catch(() => undefined);
      this.#sandboxFailures += 1;
      const delay = Math.min(1000 * 2 ** (this.#sandboxFailures - 1), 30_000);
      this.#sandboxRetryAt = Date.now() + delay;
      this.kick(delay);
      this.#event(
        'Warning',
        'FailedCreatePodSandBox',
        `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "${this.#sandbox.containerId}": ${message}`,
      );
      return false;
    }
  }

  async #teardownSandbox(): Promise<void> {
    const { namespace = 'default', name = '' } = this.#pod.metadata;
    await this.#sandbox.destroy(this.context.sandboxNode, { namespace, name, uid: this.uid });
    this.#sandboxReady = false;
    this.#save();
  }

  #exitPath(run: ContainerRun): string {
    return join(this.#stateDirectory, `${run.name}.exit`);
  }

  #rawPath(run: ContainerRun, stream: 'stdout' | 'stderr'): string {
    return join(this.#stateDirectory, `${run.name}-${run.restartCount}.${stream}`);
  }

  #cgroupOf(run: ContainerRun): string | undefined {
    const limit = ((run.spec.resources as Json | undefined)?.limits as Json | undefined)?.memory;
    return typeof limit === 'string'
      ? join(this.context.memoryCgroupParent, `${this.uid}-${run.name}`)
      : undefined;
  }

  #followLogs(run: ContainerRun): void {
    const log = join(this.#logDirectory, run.name, `${run.restartCount}.log`);
    this.context.tailer.follow(this.#rawPath(run, 'stdout'), 'stdout', log);
    this.context.tailer.follow(this.#rawPath(run, 'stderr'), 'stderr', log);
  }

  async #ensureContainer(run: ContainerRun): Promise<void> {
    if (run.process) return;
    if (
      run.state.kind === 'terminated' &&
      !restarts(restartPolicyOf(this.#pod), run.state.exitCode)
    )
      return;
    const now = Date.now();
    if (run.backoffUntil > now) {
      this.kick(run.backoffUntil - now + 5);
      return;
    }
    const image = imageOf(run);
    const resolved = this.context.catalogue.resolve(image);
    if (!resolved) {
      this.#pullFailed(run, image);
      return;
    }
    const binds = await this.#binds(run);
    if (!binds) return;
    const env = await this.#environment(run);
    if (!env) return;
    const argv = containerArgv(run.spec, resolved, env);
    if (argv.length === 0) {
      run.state = {
        kind: 'waiting',
        reason: 'CreateContainerError',
        message: 'no command specified',
      };
      this.#event('Warning', 'Failed', 'Error: no command specified', run);
      return;
    }
    this.#start(run, image, argv, env, binds);
  }

  #pullFailed(run: ContainerRun, image: string): void {
    run.pullFailures += 1;
    const reference = parseImageReference(image);
    const full = reference ? qualifiedImageName(reference) : image;
    if (run.state.kind === 'waiting' && run.state.reason === 'ErrImagePull') {
      run.state = {
        kind: 'waiting',
        reason: 'ImagePullBackOff',
        message: `Back-off pulling image "${image}"`,
      };
      this.#event('Normal', 'BackOff', `Back-off pulling image "${image}"`, run);
    } else {
      const message = `failed to pull and unpack image "${full}": failed to resolve reference "${full}": ${full}: not found`;
      run.state = {
        kind: 'waiting',
        reason: 'ErrImagePull',
        message: `rpc error: code = NotFound desc = ${message}`,
      };
      this.#event('Normal', 'Pulling', `Pulling image "${image}"`, run);
      this.#event(
        'Warning',
        'Failed',
        `Failed to pull image "${image}": rpc error: code = NotFound desc = ${message}`,
        run,
      );
      this.#event('Warning', 'Failed', 'Error: ErrImagePull', run);
    }
    const delay = Math.min(10 * 2 ** Math.max(0, run.pullFailures - 2), maxBackoffSeconds) * 1000;
    run.backoffUntil = Date.now() + (run.pullFailures === 1 ? 1000 : delay);
    this.kick(run.backoffUntil - Date.now());
  }

  /**
   * The Services' variables: the `kubernetes` Service's always (KUBERNETES_SERVICE_HOST…), those
   * of the pod's namespace unless `enableServiceLinks: false`.
   */
  async #serviceEnv(): Promise<Record<string, string>> {
    const namespace = this.#pod.metadata.namespace ?? 'default';
    const links = (this.#pod.spec as Json | undefined)?.enableServiceLinks !== false;
    const listed = await this.context.client.get<{ items: KubeResource[] }>(
      resourcePath('v1', 'services', links ? namespace : 'default'),
    );
    const services = listed.items
      .filter((service) => links || service.metadata.name === 'kubernetes')
      .map((service) => ({
        name: service.metadata.name ?? '',
        spec: (service.spec ?? {}) as Json,
      }));
    if (namespace !== 'default' && links) {
      const kubernetes = await this.context.client
        .get(resourcePath('v1', 'services', 'default', 'kubernetes'))
        .catch(() => undefined);
      if (kubernetes) services.push({ name: 'kubernetes', spec: (kubernetes.spec ?? {}) as Json });
    }
    return serviceLinkEnv(services);
  }

  /**
   * What the container gets bound in: the pod's resolv.conf and hosts, and (unless
   * `automountServiceAccountToken: false`) the service account's token, the cluster CA and the
   * namespace under /var/run/secrets/kubernetes.io/serviceaccount. Undefined: not yet (reported).
   */
  async #binds(run: ContainerRun): Promise<BindMount[] | undefined> {
    const binds: BindMount[] = [];
    for (const file of ['resolv.conf', 'hosts']) {
      const source = join('/etc/netns', this.#sandbox.netns, file);
      if (existsSync(source)) binds.push({ source, target: join('/etc', file) });
    }
    const spec = (this.#pod.spec ?? {}) as Json;
    if (spec.automountServiceAccountToken === false) return binds;
    const account =
      typeof spec.serviceAccountName === 'string' ? spec.serviceAccountName : 'default';
    const { namespace = 'default', name = '' } = this.#pod.metadata;
    try {
      const answer = await this.context.client.create<Json>(
        resourcePath('v1', 'serviceaccounts', namespace, account, 'token'),
        {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            audiences: [],
            expirationSeconds: 86_400,
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name, uid: this.uid },
          },
        },
      );
      const token = (answer.status as Json | undefined)?.token;
      const directory = join(this.#stateDirectory, 'serviceaccount');
      mkdirSync(directory, { recursive: true });
      writeFileSync(join(directory, 'token'), typeof token === 'string' ? token : '', {
        mode: 0o644,
      });
      writeFileSync(join(directory, 'ca.crt'), this.context.clusterCa);
      writeFileSync(join(directory, 'namespace'), namespace);
      mkdirSync(serviceAccountMountPath, { recursive: true });
      binds.push({ source: directory, target: serviceAccountMountPath });
      return binds;
    } catch (error) {
      if (!isStatus(error, 'NotFound')) throw error;
      const message = `serviceaccount "${account}" not found`;
      run.state = { kind: 'waiting', reason: 'CreateContainerConfigError', message };
      this.#event('Warning', 'Failed', `Error: ${message}`, run);
      this.kick(2_000);
      return undefined;
    }
  }

  /** The Secrets and ConfigMaps a container's env refers to (undefined: not found). */
  async #envSources(run: ContainerRun): Promise<EnvSources> {
    const namespace = this.#pod.metadata.namespace ?? 'default';
    const secrets = new Map<string, Record<string, string> | undefined>();
    const configMaps = new Map<string, Record<string, string> | undefined>();
    const references = JSON.stringify([run.spec.env ?? [], run.spec.envFrom ?? []]);
    const pattern =
      /"(secretKeyRef|secretRef|configMapKeyRef|configMapRef)":\{[^}]*?"name":"([^"]+)"/g;
    for (const [, kind = '', name = ''] of references.matchAll(pattern)) {
      const isSecret = kind.startsWith('secret');
      const target = isSecret ? secrets : configMaps;
      if (target.has(name)) continue;
      const path = resourcePath('v1', isSecret ? 'secrets' : 'configmaps', namespace, name);
      const data = await this.context.client.get<Json>(path).then(
        (object) => (object.data ?? {}) as Record<string, string>,
        (error: unknown) => {
          if (isStatus(error, 'NotFound')) return undefined;
          throw error;
        },
      );
      target.set(name, isSecret && data ? decodedSecret(data) : data);
    }
    return { secret: (name) => secrets.get(name), configMap: (name) => configMaps.get(name) };
  }

  async #environment(run: ContainerRun): Promise<Record<string, string> | undefined> {
    const sources = await this.#envSources(run);
    const base: Record<string, string> = {
      PATH: defaultPath,
      HOSTNAME: this.#pod.metadata.name ?? '',
      ...(await this.#serviceEnv()),
    };
    const result = containerEnvironment(
      {
        ...this.#pod,
        status: {
          ...((this.#pod.status ?? {}) as Json),
          podIP: this.#ip,
          hostIP: this.context.nodeIp,
          podIPs: [{ ip: this.#ip }],
          hostIPs: [{ ip: this.context.nodeIp }],
        },
      },
      run.spec,
      sources,
      base,
    );
    if (result.ok) return result.env;
    run.state = { kind: 'waiting', reason: 'CreateContainerConfigError', message: result.message };
    this.#event('Warning', 'Failed', `Error: ${result.message}`, run);
    this.kick(10_000);
    return undefined;
  }

  #start(
    run: ContainerRun,
    image: string,
    argv: string[],
    env: Record<string, string>,
    binds: BindMount[],
  ): void {
    if (run.hasRun) {
      run.restartCount += 1;
      run.containerId = newContainerId();
    }
    mkdirSync(this.#stateDirectory, { recursive: true });
    this.#event('Normal', 'Pulled', `Container image "${image}" already present on machine`, run);
    const cgroup = this.#cgroupOf(run);
    const limit = ((run.spec.resources as Json | undefined)?.limits as Json | undefined)?.memory;
    const limitBytes = typeof limit === 'string' ? parseQuantity(limit) : undefined;
    const process = ContainerProcess.start({
      podNamespace: this.#sandbox.netns,
      hostname: this.#pod.metadata.name ?? '',
      binds,
      argv,
      env,
      ...(typeof run.spec.workingDir === 'string' ? { workingDir: run.spec.workingDir } : {}),
      stdoutPath: this.#rawPath(run, 'stdout'),
      stderrPath: this.#rawPath(run, 'stderr'),
      exitPath: this.#exitPath(run),
      ...(cgroup && limitBytes !== undefined
        ? { memory: { cgroup, limitBytes: limitBytes / 1000n } }
        : {}),
    });
    this.#event('Normal', 'Created', `Created container ${run.name}`, run);
    this.#event('Normal', 'Started', `Started container ${run.name}`, run);
    run.process = process;
    run.state = { kind: 'running', startedAt: stamp() };
    run.hasRun = true;
    run.started = !run.spec.startupProbe;
    run.ready = !run.spec.readinessProbe && run.started;
    this.#followLogs(run);
    this.#watchExit(run, process);
    this.#startProbes(run);
    this.#save();
    this.#recordInit(run, process);
  }

  /** Saves the container's init once it runs (a few ms after the launcher). */
  #recordInit(run: ContainerRun, process: ContainerProcess, triesLeft = 50): void {
    if (run.process !== process || this.#closed) return;
    const init = process.initRecord();
    if (init) {
      run.init = init;
      this.#save();
      return;
    }
    if (triesLeft > 0) {
      const timer = setTimeout(() => {
        this.#recordInit(run, process, triesLeft - 1);
      }, 100);
      run.timers.push(timer);
    }
  }

  #watchExit(run: ContainerRun, process: ContainerProcess): void {
    void process.exited
      .then((exit) => {
        this.#exited(run, process, exit);
      })
      .catch(this.context.onError);
  }

  #exited(run: ContainerRun, process: ContainerProcess, exit: ContainerExit): void {
    if (run.process !== process) return;
    run.process = undefined;
    run.init = undefined;
    for (const timer of run.timers) clearTimeout(timer);
    run.timers = [];
    this.context.tailer.finish(this.#rawPath(run, 'stdout'));
    this.context.tailer.finish(this.#rawPath(run, 'stderr'));
    const finishedAt = stamp();
    const startedAt = run.state.kind === 'running' ? run.state.startedAt : finishedAt;
    const reason = exit.oomKilled ? 'OOMKilled' : exit.exitCode === 0 ? 'Completed' : 'Error';
    run.state = { kind: 'terminated', exitCode: exit.exitCode, reason, startedAt, finishedAt };
    run.ready = false;
    run.started = false;
    if (!this.#terminating && restarts(restartPolicyOf(this.#pod), exit.exitCode))
      this.#scheduleRestart(run, startedAt);
    this.#save();
    this.kick();
  }

  #scheduleRestart(run: ContainerRun, startedAt: string): void {
    const terminated = run.state;
    run.lastState = terminated;
    if (Date.now() - Date.parse(startedAt) > backoffResetMs) run.backoffSeconds = 0;
    if (run.backoffSeconds === 0) {
      run.backoffSeconds = 10;
      return;
    }
    const { namespace = '', name = '' } = this.#pod.metadata;
    const seconds = run.backoffSeconds;
    run.backoffUntil = Date.now() + seconds * 1000;
    run.backoffSeconds = Math.min(seconds * 2, maxBackoffSeconds);
    run.state = {
      kind: 'waiting',
      reason: 'CrashLoopBackOff',
      message: `back-off ${seconds}s restarting failed container=${run.name} pod=${name}_${namespace}(${this.uid})`,
    };
    this.#event(
      'Warning',
      'BackOff',
      `Back-off restarting failed container ${run.name} in pod ${name}_${namespace}(${this.uid})`,
      run,
    );
  }

  #startProbes(run: ContainerRun): void {
    const process = run.process;
    if (!process) return;
    const ports: Record<string, number> = {};
    for (const port of (run.spec.ports ?? []) as Json[]) {
      if (typeof port.name === 'string' && typeof port.containerPort === 'number')
        ports[port.name] = port.containerPort;
    }
    const schedule = (
      kind: 'startupProbe' | 'livenessProbe' | 'readinessProbe',
      firstDelayMs?: number,
    ): void => {
      const probe = run.spec[kind] as Json | undefined;
      if (!probe || run.process !== process) return;
      const period = (typeof probe.periodSeconds === 'number' ? probe.periodSeconds : 10) * 1000;
      const initial =
        (typeof probe.initialDelaySeconds === 'number' ? probe.initialDelaySeconds : 0) * 1000;
      let failures = 0;
      let successes = 0;
      const tick = async (): Promise<void> => {
        if (run.process !== process || this.#terminating) return;
        if (kind !== 'startupProbe' && !run.started) {
          run.timers.push(setTimeout(() => void tick(), period));
          return;
        }
        const outcome = await runProbe(probe, {
          nodeNamespace: this.context.sandboxNode.cni.namespace,
          podIp: this.#ip ?? '',
          initPid: process.initPid(),
          ports,
        });
        if (run.process !== process) return;
        if (outcome.ok) {
          failures = 0;
          successes += 1;
          this.#probeSucceeded(run, kind, successes, probe);
          if (kind === 'startupProbe' && run.started) {
            schedule('livenessProbe');
            schedule('readinessProbe');
            return;
          }
        } else {
          successes = 0;
          failures += 1;
          if (this.#probeFailed(run, kind, failures, probe, outcome.message)) return;
        }
        run.timers.push(setTimeout(() => void tick(), period));
      };
      run.timers.push(setTimeout(() => void tick(), firstDelayMs ?? initial));
    };
    if (run.spec.startupProbe && !run.started) schedule('startupProbe');
    else {
      schedule('livenessProbe');
      schedule('readinessProbe');
    }
  }

  #probeSucceeded(run: ContainerRun, kind: string, successes: number, probe: Json): void {
    const threshold = typeof probe.successThreshold === 'number' ? probe.successThreshold : 1;
    if (successes < threshold) return;
    if (kind === 'startupProbe' && !run.started) {
      run.started = true;
      run.ready = !run.spec.readinessProbe;
      this.kick();
    }
    if (kind === 'readinessProbe' && !run.ready) {
      run.ready = true;
      this.kick();
    }
  }

  /** A failed attempt; true when the container is being killed (no more probing). */
  #probeFailed(
    run: ContainerRun,
    kind: string,
    failures: number,
    probe: Json,
    message: string,
  ): boolean {
    const label =
      kind === 'startupProbe' ? 'Startup' : kind === 'livenessProbe' ? 'Liveness' : 'Readiness';
    this.#event('Warning', 'Unhealthy', `${label} probe failed: ${message}`, run);
    const threshold = typeof probe.failureThreshold === 'number' ? probe.failureThreshold : 3;
    if (failures < threshold) return false;
    if (kind === 'readinessProbe') {
      if (run.ready) {
        run.ready = false;
        this.kick();
      }
      return false;
    }
    this.#event(
      'Normal',
      'Killing',
      `Container ${run.name} failed ${label.toLowerCase()} probe, will be restarted`,
      run,
    );
    void this.#stopContainer(run, this.#gracePeriod());
    return true;
  }

  #gracePeriod(): number {
    const grace = (this.#pod.spec as Json | undefined)?.terminationGracePeriodSeconds;
    return typeof grace === 'number' ? grace : 30;
  }

  async #stopContainer(run: ContainerRun, graceSeconds: number): Promise<void> {
    const process = run.process;
    if (!process) return;
    process.signal('SIGTERM');
    const killer = setTimeout(
      () => {
        process.signal('SIGKILL');
      },
      Math.max(graceSeconds, 0) * 1000,
    );
    await process.exited;
    clearTimeout(killer);
  }

  /**
   * Stops every container (SIGTERM, SIGKILL after `graceSeconds`), removes the sandbox and the
   * pod's files, and — when the pod object still exists — deletes it for good.
   */
  terminate(graceSeconds: number, deleteObject: boolean): Promise<void> {
    this.#terminating ??= this.#terminate(graceSeconds, deleteObject);
    return this.#terminating;
  }

  async #terminate(graceSeconds: number, deleteObject: boolean): Promise<void> {
    for (const run of this.#runs.values()) {
      if (run.process) this.#event('Normal', 'Killing', `Stopping container ${run.name}`, run);
    }
    await Promise.all(
      [...this.#runs.values()].map((run) => this.#stopContainer(run, graceSeconds)),
    );
    const { namespace = 'default', name = '' } = this.#pod.metadata;
    await this.#sandbox
      .destroy(this.context.sandboxNode, { namespace, name, uid: this.uid })
      .catch(this.context.onError);
    for (const run of this.#runs.values()) {
      const cgroup = this.#cgroupOf(run);
      if (cgroup) removeMemoryCgroup(cgroup);
      for (let restart = 0; restart <= run.restartCount; restart += 1) {
        this.context.tailer.forget(join(this.#stateDirectory, `${run.name}-${restart}.stdout`));
        this.context.tailer.forget(join(this.#stateDirectory, `${run.name}-${restart}.stderr`));
      }
    }
    rmSync(this.#stateDirectory, { recursive: true, force: true });
    rmSync(this.#logDirectory, { recursive: true, force: true });
    this.#closed = true;
    clearTimeout(this.#kickTimer);
    if (deleteObject) {
      await this.context.client
        .delete(resourcePath('v1', 'pods', namespace, name), {
          gracePeriodSeconds: 0,
          preconditions: { uid: this.uid },
        })
        .catch((error: unknown) => {
          if (!isStatus(error, 'NotFound', 'Conflict')) throw error;
        });
    }
    this.context.onGone(this.uid);
  }

  #views(): ContainerView[] {
    return [...this.#runs.values()].map((run) => ({
      name: run.name,
      state: run.state,
      hasRun: run.hasRun,
      ready: run.ready,
    }));
  }

  #phase(): string {
    return podPhaseOf(restartPolicyOf(this.#pod), this.#views());
  }

  async #report(): Promise<void> {
    const phase = this.#phase();
    const current = (this.#pod.status ?? {}) as Json;
    const previous = (current.conditions ?? []) as Condition[];
    const conditions = podConditions(
      previous,
      this.#sandboxReady,
      this.#views(),
      phase,
      stamp(),
    ).map((condition) =>
      Object.fromEntries(
        Object.entries({ lastProbeTime: null, ...condition }).filter(([, value]) => value !== ''),
      ),
    );
    const specs = this.#containerSpecs();
    const status: Json = {
      phase,
      conditions,
      hostIP: this.context.nodeIp,
      hostIPs: [{ ip: this.context.nodeIp }],
      ...(this.#ip ? { podIP: this.#ip, podIPs: [{ ip: this.#ip }] } : {}),
      startTime: this.#startTime,
      qosClass: qosClass(specs),
      containerStatuses: [...this.#runs.values()].map((run) => ({
        name: run.name,
        state: stateJson(run.state, run.containerId),
        lastState: run.lastState ? stateJson(run.lastState, run.containerId) : {},
        ready: run.ready,
        restartCount: run.restartCount,
        image: imageOf(run),
        imageID: run.hasRun ? `sgpods-catalogue://${imageOf(run)}` : '',
        ...(run.hasRun ? { containerID: `containerd://${run.containerId}` } : {}),
        started: run.started,
      })),
    };
    const text = JSON.stringify(status);
    if (text === this.#lastReported) return;
    const { namespace, name } = this.#pod.metadata;
    const updated = await this.context.client.mergePatch(
      resourcePath('v1', 'pods', namespace, name, 'status'),
      {
        metadata: { uid: this.uid },
        status,
      },
    );
    this.#lastReported = text;
    this.#pod = { ...this.#pod, status: updated.status };
  }

  #save(): void {
    if (this.#closed) return;
    mkdirSync(this.#stateDirectory, { recursive: true });
    const containers: Record<string, SavedContainer> = {};
    for (const run of this.#runs.values()) {
      containers[run.name] = {
        containerId: run.containerId,
        restartCount: run.restartCount,
        hasRun: run.hasRun,
        state: run.state,
        ...(run.lastState ? { lastState: run.lastState } : {}),
        ...(run.process ? { process: run.process.record } : {}),
        ...(run.init ? { init: run.init } : {}),
      };
    }
    const record: PodRecord = {
      uid: this.uid,
      namespace: this.#pod.metadata.namespace ?? 'default',
      name: this.#pod.metadata.name ?? '',
      netns: this.#sandbox.netns,
      sandboxId: this.#sandbox.containerId,
      ...(this.#sandbox.hostAddress !== undefined ? { hostNetwork: true } : {}),
      ...(this.#ip ? { ip: this.#ip } : {}),
      startTime: this.#startTime,
      containers,
    };
    writeFileSync(join(this.#stateDirectory, 'record.json'), JSON.stringify(record));
  }

  /** Stops working without touching the containers (the kubelet is shutting down). */
  detach(): void {
    this.#closed = true;
    clearTimeout(this.#kickTimer);
    for (const run of this.#runs.values()) for (const timer of run.timers) clearTimeout(timer);
  }

  get settled(): Promise<void> {
    return this.#syncing;
  }
}
