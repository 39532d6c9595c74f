/**
 * SecurityGroupPolicy (`vpcresources.k8s.aws/v1beta1`), as the upstream CRD defines it: the types,
 * and validation identical to the CRD's structural schema (all of spec optional, `groupIds`
 * needs at least one item, no pattern on ids). Selector *semantics* are not validated by the CRD:
 * a bad operator is accepted and later counts as "not matched" (see resolve-pod-security-groups).
 * Messages are worded as the API server words CRD schema failures.
 */
import type { FieldError } from '../errors.js';
import { invalidValue, requiredValue } from '../kube/label-validation.js';
import type { LabelSelector } from '../kube/label-selector.js';

export const securityGroupPolicyGroup = 'vpcresources.k8s.aws';
export const securityGroupPolicyVersion = 'v1beta1';
export const securityGroupPolicyKind = 'SecurityGroupPolicy';

export interface SecurityGroupPolicySpec {
  readonly podSelector?: LabelSelector;
  readonly serviceAccountSelector?: LabelSelector;
  readonly securityGroups?: { readonly groupIds?: readonly string[] };
}

export interface SecurityGroupPolicy {
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly spec: SecurityGroupPolicySpec;
}

type JsonType = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'null';

function jsonTypeOf(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'object') return 'object';
  return typeof value as JsonType;
}

class SchemaChecker {
  readonly errors: FieldError[] = [];

  /** True when `value` is of `type`; records the API server's type error otherwise. */
  isType(value: unknown, type: JsonType, path: string): boolean {
    const actual = jsonTypeOf(value);
    if (actual === type) return true;
    this.errors.push(
      invalidValue(path, actual, `${path} in body must be of type ${type}: "${actual}"`),
    );
    return false;
  }

  stringArray(value: unknown, path: string): void {
    if (!this.isType(value, 'array', path)) return;
    (value as unknown[]).forEach((item, index) => {
      if (item !== null) this.isType(item, 'string', `${path}[${index}]`);
    });
  }

  labelSelector(value: unknown, path: string): void {
    if (!this.isType(value, 'object', path)) return;
    const selector = value as Record<string, unknown>;
    const { matchLabels, matchExpressions } = selector;
    if (matchLabels != null && this.isType(matchLabels, 'object', `${path}.matchLabels`)) {
      for (const [key, label] of Object.entries(matchLabels as Record<string, unknown>)) {
        if (label !== null) this.isType(label, 'string', `${path}.matchLabels.${key}`);
      }
    }
    if (
      matchExpressions != null &&
      this.isType(matchExpressions, 'array', `${path}.matchExpressions`)
    ) {
      (matchExpressions as unknown[]).forEach((item, index) => {
        this.requirement(item, `${path}.matchExpressions[${index}]`);
      });
    }
  }

  requirement(value: unknown, path: string): void {
    if (!this.isType(value, 'object', path)) return;
    const requirement = value as Record<string, unknown>;
    for (const field of ['key', 'operator'] as const) {
      if (requirement[field] == null) this.errors.push(requiredValue(`${path}.${field}`));
      else this.isType(requirement[field], 'string', `${path}.${field}`);
    }
    if (requirement.values != null) this.stringArray(requirement.values, `${path}.values`);
  }

  securityGroups(value: unknown, path: string): void {
    if (!this.isType(value, 'object', path)) return;
    const groupIds = (value as Record<string, unknown>).groupIds;
    if (groupIds == null) return;
    const groupIdsPath = `${path}.groupIds`;
    this.stringArray(groupIds, groupIdsPath);
    if (Array.isArray(groupIds) && groupIds.length < 1) {
      this.errors.push(
        invalidValue(groupIdsPath, 0, `${groupIdsPath} in body should have at least 1 items`),
      );
    }
  }
}

/** Validates a policy's `spec` (as decoded JSON) against the upstream CRD schema. */
export function validateSecurityGroupPolicySpec(spec: unknown): FieldError[] {
  const checker = new SchemaChecker();
  if (spec == null || !checker.isType(spec, 'object', 'spec')) return checker.errors;
  const { podSelector, serviceAccountSelector, securityGroups } = spec as Record<string, unknown>;
  if (podSelector != null) checker.labelSelector(podSelector, 'spec.podSelector');
  if (serviceAccountSelector != null) {
    checker.labelSelector(serviceAccountSelector, 'spec.serviceAccountSelector');
  }
  if (securityGroups != null) checker.securityGroups(securityGroups, 'spec.securityGroups');
  return checker.errors;
}
