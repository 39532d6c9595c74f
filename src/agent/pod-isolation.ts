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
  isStatus,
  resourcePath,
  type KubeHttpClient,
  type KubeResource,
} from '../adapters/kube/kube-http-client.js';
import { hasPodEniLimit, regularPodPlan } from '../core/cni/pod-network-plan.js';
import type { ServiceAccountIdentity } from '../core/policy/resolve-pod-security-groups.js';
import type { SecurityGroupPolicy } from '../core/policy/security-group-policy.js';

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

type Json = Record<string, unknown>;

async function linkIsUp(name: string): Promise<boolean | undefined> {
  const { stdout, exitCode } = await runCommand(['ip', '-j', 'link', 'show', name], {
    okExitCodes: [0, 1, 255],
  });
  if (exitCode !== 0) return undefined;
  const flags = (JSON.parse(stdout) as { flags?: string[] }[])[0]?.flags ?? [];
  return flags.includes('UP');
}

export class PodIsolation {
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly options: PodIsolationOptions) {}

  start(): void {
    this.#schedule(0);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.reconcile()
        .catch((error: unknown) => {
          this.options.log(
            `pod isolation: ${error instanceof Error ? error.message : String(error)}`,
          );
        })
        .finally(() => {
          this.#schedule(this.options.intervalMs ?? 3_000);
        });
    }, delayMs);
  }

  async #serviceAccount(
    namespace: string,
    name: string,
  ): Promise<ServiceAccountIdentity | undefined> {
    try {
      const account = await this.options.kube.get(
        resourcePath('v1', 'serviceaccounts', namespace, name),
      );
      return { namespace, name, labels: account.metadata.labels ?? {} };
    } catch (error) {
      if (isStatus(error, 'NotFound')) return undefined;
      throw error;
    }
  }

  async #policies(): Promise<SecurityGroupPolicy[]> {
    try {
      const list = await this.options.kube.get<{ items?: SecurityGroupPolicy[] }>(
        resourcePath('vpcresources.k8s.aws/v1beta1', 'securitygrouppolicies'),
      );
      return list.items ?? [];
    } catch (error) {
      if (isStatus(error, 'NotFound')) return [];
      throw error;
    }
  }

  /** Whether each regular pod must be cut off now (by container id), with the reason. */
  async #verdicts(): Promise<Map<string, string | undefined>> {
    const policies = await this.#policies();
    const pods = await this.options.kube.get<{ items?: KubeResource[] }>(
      `${resourcePath('v1', 'pods')}?fieldSelector=${encodeURIComponent(`spec.nodeName=${this.options.nodeName}`)}`,
    );
    const byName = new Map(
      (pods.items ?? []).map((pod) => [
        `${pod.metadata.namespace ?? ''}/${pod.metadata.name}`,
        pod,
      ]),
    );
    const verdicts = new Map<string, string | undefined>();
    for (const regular of this.options.regularPods()) {
      const pod = byName.get(`${regular.podNamespace ?? ''}/${regular.podName ?? ''}`);
      const namespace = regular.podNamespace ?? '';
      const inNamespace = policies.filter((policy) => policy.metadata.namespace === namespace);
      if (!pod || hasPodEniLimit(pod) || inNamespace.length === 0) {
        verdicts.set(regular.containerId, undefined);
        continue;
      }
      const accountName = ((pod.spec ?? {}) as Json).serviceAccountName;
      const serviceAccount = await this.#serviceAccount(
        namespace,
        typeof accountName === 'string' && accountName !== '' ? accountName : 'default',
      );
      const plan = regularPodPlan({ pod, policies: inNamespace, serviceAccount });
      verdicts.set(regular.containerId, plan.kind === 'refuse' ? plan.reason : undefined);
    }
    return verdicts;
  }

  /** One pass over the node's regular pods. */
  async reconcile(): Promise<void> {
    const verdicts = await this.#verdicts();
    for (const regular of this.options.regularPods()) {
      const host = hostInterfaceName(regular.containerId);
      const up = await linkIsUp(host);
      if (up === undefined) continue;
      const reason = verdicts.get(regular.containerId);
      if (reason !== undefined && up) {
        await runCommand(['ip', 'link', 'set', host, 'down']);
        this.options.log(`cut off ${host}: ${reason}`);
        await this.#event(regular, reason);
      } else if (reason === undefined && !up) {
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
      }
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
