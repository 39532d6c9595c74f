import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isOwnedKernelName,
  kernelName,
  kernelPrefix,
  maxKernelNameLength,
} from './kernel-names.js';

describe('kernel names', () => {
  it('derives a stable 5-character prefix from the home path', () => {
    expect(kernelPrefix('/var/lib/sgpods')).toBe(kernelPrefix('/var/lib/sgpods'));
    expect(kernelPrefix('/var/lib/sgpods')).toMatch(/^s[0-9a-z]{4}$/);
    expect(kernelPrefix('/tmp/a')).not.toBe(kernelPrefix('/tmp/b'));
  });

  it('builds names that fit IFNAMSIZ and refuses longer ones', () => {
    const prefix = kernelPrefix('/tmp/home');
    expect(kernelName(prefix, 'r-01234567')).toHaveLength(15);
    expect(() => kernelName(prefix, 'r-012345678')).toThrow(RangeError);
    expect(() => kernelName(prefix, 'a b')).toThrow(RangeError);
    expect(isOwnedKernelName(prefix, kernelName(prefix, 'vpc'))).toBe(true);
    expect(isOwnedKernelName(kernelPrefix('/tmp/other'), kernelName(prefix, 'vpc'))).toBe(false);
  });

  it('prefixes of distinct homes rarely collide (property over 2,000 paths)', () => {
    const paths = fc.sample(
      fc.uniqueArray(fc.string({ minLength: 1, maxLength: 40 }), {
        minLength: 2000,
        maxLength: 2000,
      }),
      1,
    )[0]!;
    const prefixes = new Set(paths.map((path) => kernelPrefix(`/tmp/${path}`)));
    expect(prefixes.size).toBeGreaterThan(1990);
    expect(maxKernelNameLength).toBe(15);
  });
});
