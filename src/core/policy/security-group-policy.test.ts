import { describe, expect, it } from 'vitest';
import { validateSecurityGroupPolicySpec } from './security-group-policy.js';

const messages = (spec: unknown) =>
  validateSecurityGroupPolicySpec(spec).map((error) => error.message);

describe('SecurityGroupPolicy schema validation (upstream CRD)', () => {
  it('accepts the workshop policy and the upstream samples', () => {
    expect(
      messages({
        podSelector: { matchLabels: { app: 'green-pod' } },
        securityGroups: { groupIds: ['sg-0123456789abcdef0'] },
      }),
    ).toEqual([]);
    expect(
      messages({
        podSelector: {
          matchLabels: { role: 'db' },
          matchExpressions: [{ key: 'environment', operator: 'In', values: ['production', 'qa'] }],
        },
        securityGroups: { groupIds: ['sg-a', 'sg-b'] },
      }),
    ).toEqual([]);
  });

  it('leaves everything optional and does not check ids or operators', () => {
    expect(messages({})).toEqual([]);
    expect(messages(undefined)).toEqual([]);
    expect(
      messages({
        podSelector: { matchExpressions: [{ key: 'a', operator: 'Whatever' }] },
        securityGroups: { groupIds: ['not-an-id'] },
      }),
    ).toEqual([]);
  });

  it('requires at least one group id', () => {
    expect(messages({ securityGroups: { groupIds: [] } })).toEqual([
      'spec.securityGroups.groupIds: Invalid value: 0: spec.securityGroups.groupIds in body should have at least 1 items',
    ]);
  });

  it('words type errors as the API server does', () => {
    expect(messages({ podSelector: { matchLabels: { app: 5 } } })).toEqual([
      'spec.podSelector.matchLabels.app: Invalid value: "integer": spec.podSelector.matchLabels.app in body must be of type string: "integer"',
    ]);
    expect(messages({ securityGroups: { groupIds: 'sg-1' } })).toEqual([
      'spec.securityGroups.groupIds: Invalid value: "string": spec.securityGroups.groupIds in body must be of type array: "string"',
    ]);
    expect(messages('x')).toEqual([
      'spec: Invalid value: "string": spec in body must be of type object: "string"',
    ]);
  });

  it('requires key and operator in expressions', () => {
    expect(messages({ serviceAccountSelector: { matchExpressions: [{ values: ['a'] }] } })).toEqual(
      [
        'spec.serviceAccountSelector.matchExpressions[0].key: Required value',
        'spec.serviceAccountSelector.matchExpressions[0].operator: Required value',
      ],
    );
  });
});
