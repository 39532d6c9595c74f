/**
 * `labelSelector` and `fieldSelector` query parameters as predicates on objects. A malformed
 * selector is 400 BadRequest, as the real server answers.
 */
import { KubeStatusError } from '../../core/errors.js';
import { requirementMatches, type Labels } from '../../core/kube/label-selector.js';
import { parseLabelSelector } from '../../core/kube/label-selector-string.js';
import type { KubeObject } from './storage/kube-store.js';

export type ObjectPredicate = (object: KubeObject) => boolean;

export function labelMatcher(selector: string | null | undefined): ObjectPredicate {
  if (!selector) return () => true;
  const parsed = parseLabelSelector(selector);
  if (!parsed.ok) {
    throw new KubeStatusError('BadRequest', 400, `unable to parse requirement: ${parsed.error}`);
  }
  return (object) => {
    const labels = (object.metadata?.labels ?? {}) as Labels;
    return parsed.requirements.every((requirement) => requirementMatches(requirement, labels));
  };
}

function fieldValue(object: KubeObject, field: string): string {
  let actual: unknown = object;
  for (const part of field.split('.')) {
    actual =
      typeof actual === 'object' && actual !== null
        ? (actual as Record<string, unknown>)[part]
        : undefined;
  }
  return typeof actual === 'string' || typeof actual === 'number' || typeof actual === 'boolean'
    ? String(actual)
    : '';
}

/**
 * `metadata.name=x,metadata.namespace!=y`: exact matches on the dotted fields of an object
 * (`involvedObject.uid` for events, `spec.nodeName` for pods, …).
 */
export function fieldMatcher(selector: string | null | undefined): ObjectPredicate {
  if (!selector) return () => true;
  const terms = selector
    .split(',')
    .filter((term) => term.trim() !== '')
    .map((term) => {
      const match = /^([A-Za-z][\w.]*)\s*(!=|==|=)\s*(.*)$/.exec(term.trim());
      if (!match) {
        throw new KubeStatusError(
          'BadRequest',
          400,
          `invalid selector: '${selector}'; can't understand '${term}'`,
        );
      }
      const [, field = '', operator = '=', value = ''] = match;
      return { field, negated: operator === '!=', value };
    });
  return (object) =>
    terms.every(({ field, negated, value }) => (fieldValue(object, field) === value) !== negated);
}
