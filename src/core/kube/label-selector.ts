/**
 * Kubernetes label selectors: the structured `metav1.LabelSelector` (matchLabels +
 * matchExpressions), its validation, the `-l` / `labelSelector=` string form, and matching that
 * says which requirement failed. Semantics follow apimachinery: an empty selector matches
 * everything; NotIn and DoesNotExist match when the label is absent.
 */
import type { FieldError } from '../errors.js';
import {
  forbiddenValue,
  invalidValue,
  labelValueProblems,
  qualifiedNameProblems,
  requiredValue,
  validateLabelName,
  validateLabels,
} from './label-validation.js';

export type Labels = Readonly<Record<string, string>>;

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Labels;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

export type Operator =
  'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Equals' | 'NotEquals' | 'Gt' | 'Lt';

/** One parsed requirement (apimachinery `labels.Requirement`). */
export interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  readonly values: readonly string[];
}

export type SelectorResult =
  | { readonly ok: true; readonly requirements: readonly Requirement[] }
  | { readonly ok: false; readonly error: string };

const structuredOperators = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);

/** `ValidateLabelSelector` as the API server runs it, field errors worded as Kubernetes words them. */
export function validateLabelSelector(selector: LabelSelector, field: string): FieldError[] {
  const errors = validateLabels(selector.matchLabels ?? {}, `${field}.matchLabels`);
  (selector.matchExpressions ?? []).forEach((requirement, index) => {
    const path = `${field}.matchExpressions[${index}]`;
    const values = requirement.values ?? [];
    switch (requirement.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) {
          errors.push(
            requiredValue(`${path}.values`, "must be specified when `operator` is 'In' or 'NotIn'"),
          );
        }
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) {
          errors.push(
            forbiddenValue(
              `${path}.values`,
              "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
          );
        }
        break;
      default:
        errors.push(
          invalidValue(`${path}.operator`, requirement.operator, 'not a valid selector operator'),
        );
    }
    errors.push(...validateLabelName(requirement.key, `${path}.key`));
    values.forEach((value, valueIndex) => {
      for (const problem of labelValueProblems(value)) {
        errors.push(invalidValue(`${path}.values[${valueIndex}]`, value, problem));
      }
    });
  });
  return errors;
}

const integerPattern = /^-?\d+$/;

/** Per operator: what its values must look like, worded as apimachinery's NewRequirement. */
const valueRules: Record<Operator, { ok: (values: readonly string[]) => boolean; error: string }> =
  {
    In: {
      ok: (v) => v.length > 0,
      error: "for 'in', 'notin' operators, values set can't be empty",
    },
    NotIn: {
      ok: (v) => v.length > 0,
      error: "for 'in', 'notin' operators, values set can't be empty",
    },
    Equals: {
      ok: (v) => v.length === 1,
      error: 'exact-match compatibility requires one single value',
    },
    NotEquals: {
      ok: (v) => v.length === 1,
      error: 'exact-match compatibility requires one single value',
    },
    Exists: {
      ok: (v) => v.length === 0,
      error: 'values set must be empty for exists and does not exist',
    },
    DoesNotExist: {
      ok: (v) => v.length === 0,
      error: 'values set must be empty for exists and does not exist',
    },
    Gt: {
      ok: (v) => v.length === 1 && integerPattern.test(v[0] ?? ''),
      error: "for 'Gt', 'Lt' operators, exactly one integer value is required",
    },
    Lt: {
      ok: (v) => v.length === 1 && integerPattern.test(v[0] ?? ''),
      error: "for 'Gt', 'Lt' operators, exactly one integer value is required",
    },
  };

function checkRequirement(requirement: Requirement): string | undefined {
  const keyProblems = qualifiedNameProblems(requirement.key);
  if (keyProblems.length > 0) {
    return `invalid label key "${requirement.key}": ${keyProblems.join('; ')}`;
  }
  const rule = valueRules[requirement.operator];
  if (!rule.ok(requirement.values)) return rule.error;
  for (const value of requirement.values) {
    const problems = labelValueProblems(value);
    if (problems.length > 0) return `invalid label value: "${value}": ${problems.join('; ')}`;
  }
  return undefined;
}

/** `metav1.LabelSelectorAsSelector`: requirements sorted by key, or the conversion error. */
export function selectorRequirements(selector: LabelSelector): SelectorResult {
  const requirements: Requirement[] = Object.entries(selector.matchLabels ?? {}).map(
    ([key, value]) => ({ key, operator: 'In', values: [value] }),
  );
  for (const expression of selector.matchExpressions ?? []) {
    if (!structuredOperators.has(expression.operator)) {
      return {
        ok: false,
        error: `"${expression.operator}" is not a valid label selector operator`,
      };
    }
    requirements.push({
      key: expression.key,
      operator: expression.operator as Operator,
      values: [...(expression.values ?? [])],
    });
  }
  return checkedRequirements(requirements);
}

/** Checks each requirement and sorts them by key, as apimachinery's selectors are kept. */
export function checkedRequirements(requirements: readonly Requirement[]): SelectorResult {
  for (const requirement of requirements) {
    const error = checkRequirement(requirement);
    if (error) return { ok: false, error };
  }
  const sorted = [...requirements].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { ok: true, requirements: sorted };
}

function compareInteger(requirement: Requirement, value: string | undefined): boolean {
  if (value === undefined || !integerPattern.test(value)) return false;
  const actual = BigInt(value);
  const bound = BigInt(requirement.values[0] ?? '0');
  return requirement.operator === 'Gt' ? actual > bound : actual < bound;
}

export function requirementMatches(requirement: Requirement, labels: Labels): boolean {
  const value = Object.hasOwn(labels, requirement.key) ? labels[requirement.key] : undefined;
  switch (requirement.operator) {
    case 'In':
    case 'Equals':
      return value !== undefined && requirement.values.includes(value);
    case 'NotIn':
    case 'NotEquals':
      return value === undefined || !requirement.values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt':
      return compareInteger(requirement, value);
  }
}

/** The first requirement `labels` fail, or undefined when all hold (an empty list matches all). */
export function firstUnmetRequirement(
  requirements: readonly Requirement[],
  labels: Labels,
): Requirement | undefined {
  return requirements.find((requirement) => !requirementMatches(requirement, labels));
}

const operatorText: Record<Operator, string> = {
  In: 'in',
  NotIn: 'notin',
  Equals: '=',
  NotEquals: '!=',
  Gt: '>',
  Lt: '<',
  Exists: '',
  DoesNotExist: '!',
};

/** The string form of one requirement: `app=web`, `env in (prod,qa)`, `!canary`. */
export function formatRequirement(requirement: Requirement): string {
  const { key, operator, values } = requirement;
  switch (operator) {
    case 'Exists':
      return key;
    case 'DoesNotExist':
      return `!${key}`;
    case 'In':
    case 'NotIn':
      if (operator === 'In' && values.length === 1) return `${key}=${values[0] ?? ''}`;
      return `${key} ${operatorText[operator]} (${[...values].sort().join(',')})`;
    case 'Equals':
    case 'NotEquals':
    case 'Gt':
    case 'Lt':
      return `${key}${operatorText[operator]}${values[0] ?? ''}`;
  }
}

/** The string form of a selector (`metav1.FormatLabelSelector`); `<none>` for an empty one. */
export function formatRequirements(requirements: readonly Requirement[]): string {
  return requirements.length === 0 ? '<none>' : requirements.map(formatRequirement).join(',');
}

/** Whether `labels` satisfy a structured selector; an invalid selector matches nothing. */
export function labelSelectorMatches(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return false;
  const result = selectorRequirements(selector);
  return (
    result.ok && result.requirements.every((requirement) => requirementMatches(requirement, labels))
  );
}
