import { describe, expect, it } from 'vitest';
import {
  firstUnmetRequirement,
  formatRequirements,
  selectorRequirements,
  validateLabelSelector,
  type LabelSelector,
  type Labels,
} from './label-selector.js';
import { parseLabelSelector } from './label-selector-string.js';

function matches(selector: LabelSelector, labels: Labels): boolean {
  const converted = selectorRequirements(selector);
  if (!converted.ok) throw new Error(converted.error);
  return firstUnmetRequirement(converted.requirements, labels) === undefined;
}

describe('structured selectors', () => {
  const labels = { app: 'green-pod', tier: 'web' };

  it.each<[string, LabelSelector, boolean]>([
    ['empty matches everything', {}, true],
    ['matchLabels hit', { matchLabels: { app: 'green-pod' } }, true],
    ['matchLabels miss', { matchLabels: { app: 'red-pod' } }, false],
    ['In', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }] }, true],
    [
      'In, label absent',
      { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] },
      false,
    ],
    [
      'NotIn, label absent matches',
      { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] },
      true,
    ],
    [
      'NotIn, value listed',
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] },
      false,
    ],
    ['Exists', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    [
      'AND of both parts',
      {
        matchLabels: { app: 'green-pod' },
        matchExpressions: [{ key: 'tier', operator: 'In', values: ['db'] }],
      },
      false,
    ],
  ])('%s', (_name, selector, expected) => {
    expect(matches(selector, labels)).toBe(expected);
  });

  it('reports conversion errors as apimachinery does', () => {
    expect(selectorRequirements({ matchExpressions: [{ key: 'a', operator: 'Foo' }] })).toEqual({
      ok: false,
      error: '"Foo" is not a valid label selector operator',
    });
    expect(
      selectorRequirements({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }),
    ).toMatchObject({
      ok: false,
      error: "for 'in', 'notin' operators, values set can't be empty",
    });
    expect(
      selectorRequirements({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }),
    ).toMatchObject({
      ok: false,
      error: 'values set must be empty for exists and does not exist',
    });
    expect(selectorRequirements({ matchLabels: { 'bad key!': 'x' } }).ok).toBe(false);
  });

  it('validates as ValidateLabelSelector words it', () => {
    const errors = validateLabelSelector(
      {
        matchLabels: { 'example.com/app': 'ok', '-bad': 'v' },
        matchExpressions: [
          { key: 'a', operator: 'In' },
          { key: 'b', operator: 'Exists', values: ['x'] },
          { key: 'c', operator: 'Foo' },
        ],
      },
      'spec.podSelector',
    ).map((error) => error.message);
    expect(errors).toEqual([
      `spec.podSelector.matchLabels: Invalid value: "-bad": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
      "spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
      "spec.podSelector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
      'spec.podSelector.matchExpressions[2].operator: Invalid value: "Foo": not a valid selector operator',
    ]);
  });

  it('formats like FormatLabelSelector', () => {
    const converted = selectorRequirements({
      matchLabels: { role: 'db' },
      matchExpressions: [{ key: 'environment', operator: 'In', values: ['qa', 'production'] }],
    });
    expect(converted.ok && formatRequirements(converted.requirements)).toBe(
      'environment in (production,qa),role=db',
    );
  });
});

describe('the string form', () => {
  const labels = { a: 'b', c: 'x', e: 'y', n: '7' };

  it.each<[string, boolean]>([
    ['', true],
    ['a=b', true],
    ['a==b', true],
    ['a!=b', false],
    ['c!=d', true],
    ['e in (x,y)', true],
    ['e in (x, z)', false],
    ['e notin (x,z)', true],
    ['zz notin (x)', true],
    ['a', true],
    ['!f', true],
    ['!a', false],
    ['n>5', true],
    ['n<5', false],
    ['a=b,c!=d,e in (x,y),!f', true],
    ['a=b, c=d', false],
    ['a=', false],
  ])('%s -> %s', (text, expected) => {
    const parsed = parseLabelSelector(text);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(firstUnmetRequirement(parsed.requirements, labels) === undefined).toBe(expected);
  });

  it.each(['a in x', 'a in (x', 'a b', '=b', 'a=b,', 'a!', 'n>x', 'in (a)x', 'a=b=c'])(
    'rejects %s',
    (text) => {
      const parsed = parseLabelSelector(text);
      expect(parsed.ok).toBe(false);
    },
  );

  it('round-trips through the formatted form', () => {
    const parsed = parseLabelSelector('tier notin (b,a), app = web ,!canary,env');
    if (!parsed.ok) throw new Error(parsed.error);
    const text = formatRequirements(parsed.requirements);
    expect(text).toBe('app=web,!canary,env,tier notin (a,b)');
    const again = parseLabelSelector(text);
    expect(again.ok && formatRequirements(again.requirements)).toBe(text);
  });
});
