/**
 * Fail-closed for pods already running (beyond upstream): a regular pod of this node that comes to
 * match a SecurityGroupPolicy — its policy was created after it was admitted, or its labels
 * changed — would keep talking with the node's groups. Every few seconds the agent judges the
 * node's regular pods as ADD would and takes the node end of a matched pod's interface down
 * (nothing in or out through the node's ENI), with a Warning event; a pod that stops matching is
 * put back. The controller's self-healing (`--recreate-unadmitted-pods`) then replaces the pod
 * with one that gets its branch ENI; with it off, the pod stays cut off.
 */
import { hostInterfaceName } from '../adapters/cni/point-to-point.js';
import { runCommand } from '../adapters/exec/run-command.js';
import {
  resourcePath,
  type KubeHttpClient,
  type KubeResource,
} from '../adapters/kube/kube-http-client.js';
import { hasPodEniLimit, regularPodPlan } from '../core/cni/pod-network-plan.js';
import { PeriodicTask } from './periodic-task.js';
import { readPolicies, readServiceAccount } from './policy-lookups.js';

/** A regular pod's wiring on this node (from the address pool). */
export interface RegularPod {
  readonly containerId: string;
  readonly address: string;
  readonly podNamespace?: string;
  readonly podName?: string;
}

export interface PodIsolationOptions {
  readonly kube: KubeHttpClient;
  readonly nodeName: string;
  readonly regularPods: () => readonly RegularPod[];
  readonly log: (message: string) => void;
  readonly intervalMs?: number;
}

async function linkIsUp(name: string): Promise<boolean | undefined> {
  const { stdout, exitCode } = await runCommand(['ip', '-j', 'link', 'show', name], {
    okExitCodes: [0, 1, 255],
  });
  if (exitCode !== 0) return undefined;
  const flags = (JSON.parse(stdout) as { flags?: string[] }[])[0]?.flags ?? [];
  return flags.includes('UP');
}

export class PodIsolation {
  readonly #task: PeriodicTask;
  /** Container ids whose link this agent took down (undefined until the first pass). */
  #cut: Set<string> | undefined;

  constructor(private readonly options: PodIsolationOptions) {
    const intervalMs = options.intervalMs ?? 3_000;
    this.#task = new PeriodicTask(
      async () => {
        await this.reconcile();
        return intervalMs;
      },
      (error) => {
        options.log(`pod isolation: ${error instanceof Error ? error.message : String(error)}`);
      },
      intervalMs,
    );
  }

  start(): void {
    this.#task.start();
  }

  close(): void {
    this.#task.close();
  }

  /** Whether each regular pod must be cut off now (by container id), with the reason. */
  async #verdicts(): Promise<Map<string, string | undefined>> {
    const policies = await readPolicies(this.options.kube);
    const regulars = this.options.regularPods();
    const verdicts = new Map<string, string | undefined>();
    // The usual case costs one list: no policy where this node's regular pods live.
    const namespaces = new Set(policies.map((policy) => policy.metadata.namespace));
    if (!regulars.some((regular) => namespaces.has(regular.podNamespace ?? ''))) return verdicts;
    const pods = await this.options.kube.get<{ items?: KubeResource[] }>(
      `${resourcePath('v1', 'pods')}?fieldSelector=${encodeURIComponent(`spec.nodeName=${this.options.nodeName}`)}`,
    );
    const byName = new Map(
      (pods.items ?? []).map((pod) => [
        `${pod.metadata.namespace ?? ''}/${pod.metadata.name}`,
        pod,
      ]),
    );
    for (const regular of regulars) {
      const pod = byName.get(`${regular.podNamespace ?? ''}/${regular.podName ?? ''}`);
      const namespace = regular.podNamespace ?? '';
      const inNamespace = policies.filter((policy) => policy.metadata.namespace === namespace);
      if (!pod || hasPodEniLimit(pod) || inNamespace.length === 0) {
        verdicts.set(regular.containerId, undefined);
        continue;
      }
      const serviceAccount = await readServiceAccount(this.options.kube, namespace, pod.spec);
      const plan = regularPodPlan({ pod, policies: inNamespace, serviceAccount });
      verdicts.set(regular.containerId, plan.kind === 'refuse' ? plan.reason : undefined);
    }
    return verdicts;
  }

  /** One pass over the node's regular pods. */
  async reconcile(): Promise<void> {
    const verdicts = await this.#verdicts();
    const firstPass = this.#cut === undefined;
    const cut = (this.#cut ??= new Set());
    for (const regular of this.options.regularPods()) {
      const reason = verdicts.get(regular.containerId);
      // Links are looked at only where something may change (all of them once, after a restart).
      if (!firstPass && reason === undefined && !cut.has(regular.containerId)) continue;
      if (reason !== undefined && cut.has(regular.containerId)) continue;
      const host = hostInterfaceName(regular.containerId);
      const up = await linkIsUp(host);
      if (up === undefined) {
        cut.delete(regular.containerId);
        continue;
      }
      if (reason !== undefined) {
        if (up) {
          await runCommand(['ip', 'link', 'set', host, 'down']);
          this.options.log(`cut off ${host}: ${reason}`);
          await this.#event(regular, reason);
        }
        cut.add(regular.containerId);
      } else if (!up) {
        await runCommand(['ip', 'link', 'set', host, 'up']);
        // Taking the link down dropped the route through it.
        await runCommand([
          'ip',
          'route',
          'replace',
          `${regular.address}/32`,
          'dev',
          host,
          'scope',
          'link',
        ]);
        this.options.log(
          `put back ${host}: pod ${regular.podNamespace ?? ''}/${regular.podName ?? ''} matches no policy now`,
        );
        cut.delete(regular.containerId);
      } else cut.delete(regular.containerId);
    }
  }

  async #event(regular: RegularPod, reason: string): Promise<void> {
    const namespace = regular.podNamespace ?? 'default';
    const now = new Date().toISOString();
    await this.options.kube
      .create(resourcePath('v1', 'events', namespace), {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${regular.podName ?? 'pod'}.`, namespace },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace, name: regular.podName },
        type: 'Warning',
        reason: 'PodNetworkIsolated',
        message: `${reason}; its network through the node's ENI is cut off`,
        source: { component: 'aws-node', host: this.options.nodeName },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      })
      .catch((error: unknown) => {
        this.options.log(
          `event for ${namespace}/${regular.podName ?? ''}: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
  }
}
