/**
 * Which security groups a pod gets, with upstream semantics (resource controller
 * `GetMatchingSecurityGroupForPods`), and why: every policy of the pod's namespace is judged and
 * the judgement recorded, so `sgpods explain` can say which policy matched or did not, and why.
 *
 * - Only policies in the pod's namespace apply.
 * - The pod's ServiceAccount is needed even when no policy selects on it; without it, no answer.
 * - A policy with neither selector, or without groupIds, is invalid and skipped.
 * - An empty selector `{}` matches everything; an absent one is not evaluated; both present = AND.
 * - A selector that does not convert (bad operator, bad key) counts as not matched.
 * - Result: groupIds of matching policies in list order, de-duplicated keeping the first.
 */
import {
  firstUnmetRequirement,
  formatRequirement,
  selectorRequirements,
  type LabelSelector,
  type Labels,
} from '../kube/label-selector.js';
import type { SecurityGroupPolicy } from './security-group-policy.js';

export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
  /** `spec.serviceAccountName`; empty or absent means `default`. */
  readonly serviceAccountName?: string;
}

export interface ServiceAccountIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
}

export type PolicyOutcome =
  'matched' | 'not-matched' | 'selector-error' | 'invalid-policy' | 'other-namespace';

export interface PolicyJudgement {
  readonly namespace: string;
  readonly name: string;
  readonly outcome: PolicyOutcome;
  /** One sentence: why the policy matched, did not, or was skipped. */
  readonly reason: string;
  readonly groupIds: readonly string[];
}

export type PodSecurityGroups =
  | {
      readonly ok: true;
      readonly groupIds: readonly string[];
      readonly judgements: readonly PolicyJudgement[];
    }
  | { readonly ok: false; readonly error: string };

export interface ResolveInput {
  readonly pod: PodIdentity;
  /** The pod's ServiceAccount, or undefined when it cannot be found. */
  readonly serviceAccount: ServiceAccountIdentity | undefined;
  readonly policies: readonly SecurityGroupPolicy[];
}

type SelectorJudgement = { matched: true } | { matched: false; reason: string; error?: true };

function judgeSelector(
  what: 'podSelector' | 'serviceAccountSelector',
  selector: LabelSelector,
  labels: Labels,
  subject: string,
): SelectorJudgement {
  const converted = selectorRequirements(selector);
  if (!converted.ok) {
    return {
      matched: false,
      reason: `${what} is not a valid selector: ${converted.error}`,
      error: true,
    };
  }
  const unmet = firstUnmetRequirement(converted.requirements, labels);
  if (!unmet) return { matched: true };
  const actual = Object.hasOwn(labels, unmet.key)
    ? `${unmet.key}=${labels[unmet.key] ?? ''}`
    : `no label ${unmet.key}`;
  return {
    matched: false,
    reason: `${what} requires ${formatRequirement(unmet)}, but the ${subject} has ${actual}`,
  };
}

function judgePolicy(
  policy: SecurityGroupPolicy,
  pod: PodIdentity,
  serviceAccount: ServiceAccountIdentity,
): PolicyJudgement {
  const { namespace, name } = policy.metadata;
  const groupIds = policy.spec.securityGroups?.groupIds ?? [];
  const judged = (outcome: PolicyOutcome, reason: string): PolicyJudgement => ({
    namespace,
    name,
    outcome,
    reason,
    groupIds,
  });
  if (namespace !== pod.namespace) {
    return judged(
      'other-namespace',
      `policy is in namespace ${namespace}; only policies in the pod's namespace ${pod.namespace} apply`,
    );
  }
  const { podSelector, serviceAccountSelector } = policy.spec;
  if (!podSelector && !serviceAccountSelector) {
    return judged('invalid-policy', 'policy has neither podSelector nor serviceAccountSelector');
  }
  if (groupIds.length === 0) {
    return judged('invalid-policy', 'policy has no securityGroups.groupIds');
  }
  const checks: SelectorJudgement[] = [];
  if (podSelector) checks.push(judgeSelector('podSelector', podSelector, pod.labels, 'pod'));
  if (serviceAccountSelector) {
    checks.push(
      judgeSelector(
        'serviceAccountSelector',
        serviceAccountSelector,
        serviceAccount.labels,
        `service account ${serviceAccount.name}`,
      ),
    );
  }
  const failed = checks.find(
    (check): check is Extract<SelectorJudgement, { matched: false }> => !check.matched,
  );
  if (failed) {
    return judged(failed.error ? 'selector-error' : 'not-matched', failed.reason);
  }
  const which = [podSelector && 'podSelector', serviceAccountSelector && 'serviceAccountSelector']
    .filter(Boolean)
    .join(' and ');
  return judged('matched', `${which} match${which.includes(' and ') ? '' : 'es'}`);
}

/** Resolves the security groups of a pod. See the module comment for the rules. */
export function resolvePodSecurityGroups(input: ResolveInput): PodSecurityGroups {
  const { pod, serviceAccount, policies } = input;
  const serviceAccountName = pod.serviceAccountName || 'default';
  if (!serviceAccount) {
    return {
      ok: false,
      error: `serviceaccount "${serviceAccountName}" not found in namespace "${pod.namespace}"`,
    };
  }
  const judgements = policies.map((policy) => judgePolicy(policy, pod, serviceAccount));
  const groupIds = [
    ...new Set(
      judgements.flatMap((judgement) =>
        judgement.outcome === 'matched' ? judgement.groupIds : [],
      ),
    ),
  ];
  return { ok: true, groupIds, judgements };
}
