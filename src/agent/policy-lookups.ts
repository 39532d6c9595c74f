/**
 * What the agent reads to judge a pod as the controller would: the SecurityGroupPolicies (of a
 * namespace, or all) and a ServiceAccount's labels. A cluster without the CRD has no policies.
 */
import { isStatus, resourcePath, type KubeHttpClient } from '../adapters/kube/kube-http-client.js';
import type { ServiceAccountIdentity } from '../core/policy/resolve-pod-security-groups.js';
import type { SecurityGroupPolicy } from '../core/policy/security-group-policy.js';

export async function readPolicies(
  kube: KubeHttpClient,
  namespace?: string,
): Promise<SecurityGroupPolicy[]> {
  try {
    const list = await kube.get<{ items?: SecurityGroupPolicy[] }>(
      resourcePath('vpcresources.k8s.aws/v1beta1', 'securitygrouppolicies', namespace),
    );
    return list.items ?? [];
  } catch (error) {
    if (isStatus(error, 'NotFound')) return [];
    throw error;
  }
}

/** The pod's service account (`default` when it names none); undefined when it does not exist. */
export async function readServiceAccount(
  kube: KubeHttpClient,
  namespace: string,
  podSpec: unknown,
): Promise<ServiceAccountIdentity | undefined> {
  const named = (podSpec as { serviceAccountName?: unknown } | undefined)?.serviceAccountName;
  const name = typeof named === 'string' && named !== '' ? named : 'default';
  try {
    const account = await kube.get(resourcePath('v1', 'serviceaccounts', namespace, name));
    return { namespace, name, labels: account.metadata.labels ?? {} };
  } catch (error) {
    if (isStatus(error, 'NotFound')) return undefined;
    throw error;
  }
}
