/**
 * What the webhooks read, kept by informers (list + watch through @kubernetes/client-node):
 * SecurityGroupPolicies of every namespace and ServiceAccounts. A ServiceAccount missing from
 * the cache (created a moment ago) is read from the API server before a pod is judged without
 * it. The SecurityGroupPolicy informer also tells who listens which namespaces hold policies.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import {
  resolvePodSecurityGroups,
  type PodSecurityGroups,
} from '../core/policy/resolve-pod-security-groups.js';
import {
  securityGroupPolicyGroup,
  securityGroupPolicyVersion,
  type SecurityGroupPolicy,
} from '../core/policy/security-group-policy.js';

type Json = Record<string, unknown>;
type Cached<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export const securityGroupPolicyPlural = 'securitygrouppolicies';

export class PolicyCache {
  readonly policies: Cached<KubernetesObject & Json>;
  readonly serviceAccounts: Cached<V1ServiceAccount>;
  readonly #core: CoreV1Api;
  #synced = false;
  #stopped = false;

  constructor(config: KubeConfig, onError: (error: unknown) => void) {
    this.#core = config.makeApiClient(CoreV1Api);
    const custom = config.makeApiClient(CustomObjectsApi);
    this.policies = makeInformer(
      config,
      `/apis/${securityGroupPolicyGroup}/${securityGroupPolicyVersion}/${securityGroupPolicyPlural}`,
      () =>
        custom.listClusterCustomObject({
          group: securityGroupPolicyGroup,
          version: securityGroupPolicyVersion,
          plural: securityGroupPolicyPlural,
        }) as Promise<KubernetesListObject<KubernetesObject & Json>>,
    );
    this.serviceAccounts = makeInformer(config, '/api/v1/serviceaccounts', () =>
      this.#core.listServiceAccountForAllNamespaces(),
    );
    for (const informer of [this.policies, this.serviceAccounts] as Informer<KubernetesObject>[]) {
      informer.on('error', (error: unknown) => {
        if (this.#stopped) return;
        onError(error);
        // client-node stops an informer on error; resume after a pause, as client-go does.
        setTimeout(() => {
          if (!this.#stopped) informer.start().catch(onError);
        }, 1000);
      });
    }
  }

  get synced(): boolean {
    return this.#synced;
  }

  async start(): Promise<void> {
    await Promise.all([this.policies.start(), this.serviceAccounts.start()]);
    this.#synced = true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([this.policies.stop(), this.serviceAccounts.stop()]);
  }

  policiesIn(namespace: string): SecurityGroupPolicy[] {
    return this.policies.list(namespace) as unknown as SecurityGroupPolicy[];
  }

  async #serviceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined> {
    const cached = this.serviceAccounts.get(name, namespace);
    if (cached) return cached;
    try {
      return await this.#core.readNamespacedServiceAccount({ name, namespace });
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    }
  }

  /** The pod's groups as the resource controller resolves them (rc.md §2). */
  async resolve(pod: Json, namespace: string): Promise<PodSecurityGroups> {
    const metadata = (pod.metadata ?? {}) as {
      name?: string;
      generateName?: string;
      labels?: Record<string, string>;
    };
    const spec = (pod.spec ?? {}) as { serviceAccountName?: string };
    const serviceAccountName = spec.serviceAccountName || 'default';
    const policies = this.policiesIn(namespace);
    const account = await this.#serviceAccount(namespace, serviceAccountName);
    return resolvePodSecurityGroups({
      pod: {
        namespace,
        name: metadata.name ?? metadata.generateName ?? '',
        labels: metadata.labels ?? {},
        serviceAccountName,
      },
      serviceAccount: account
        ? { namespace, name: serviceAccountName, labels: account.metadata?.labels ?? {} }
        : undefined,
      policies,
    });
  }
}
