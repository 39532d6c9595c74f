import { describe, expect, it } from 'vitest';
import { isResourceId, mintResourceId } from './resource-ids.js';

describe('EC2 resource ids', () => {
  it.each([
    ['securityGroup', 'sg-0123456789abcdef0', true],
    ['securityGroup', 'sg-12345678', true],
    ['securityGroup', 'sg-0123456789ABCDEF0', false],
    ['securityGroup', 'sg-123', false],
    ['securityGroupRule', 'sgr-0123456789abcdef0', true],
    ['securityGroupRule', 'sg-0123456789abcdef0', false],
    ['networkInterface', 'eni-0123456789abcdef0', true],
    ['prefixList', 'pl-0123456789abcdef0', true],
    ['trunkAssociation', 'trunk-assoc-0123456789abcdef0', true],
  ] as const)('%s %s -> %s', (kind, id, expected) => {
    expect(isResourceId(kind, id)).toBe(expected);
  });

  it('mints 17 hex digits from the random bytes given', () => {
    const bytes = Uint8Array.from({ length: 9 }, (_, i) => i * 29);
    const id = mintResourceId('securityGroupRule', bytes);
    expect(id).toBe('sgr-001d3a577491aecbe');
    expect(id).toMatch(/^sgr-[0-9a-f]{17}$/);
    expect(isResourceId('securityGroupRule', id)).toBe(true);
    expect(() => mintResourceId('securityGroup', new Uint8Array(8))).toThrow(RangeError);
  });
});
