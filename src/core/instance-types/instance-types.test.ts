import { describe, expect, it } from 'vitest';
import { instanceTypeLimits, knownInstanceTypes, podEniCapacity } from './instance-types.js';

describe('instance types', () => {
  it.each([
    ['m5.large', 3, 10, 29, 9],
    ['m5.metal', 15, 50, 737, 120],
    ['c6g.medium', 2, 4, 8, 4],
    ['a1.medium', 2, 4, 8, 10],
    ['g4dn.xlarge', 3, 10, 29, 39],
    ['t3.medium', 3, 6, 17, 0],
    ['m4.large', 2, 10, 20, 0],
  ])('%s: %i ENIs x %i IPv4, %i pods, %i branch interfaces', (type, enis, ips, pods, branches) => {
    expect(instanceTypeLimits(type)).toMatchObject({
      maxEnis: enis,
      ipv4PerEni: ips,
      eksMaxPods: pods,
    });
    expect(podEniCapacity(type)).toBe(branches);
  });

  it('covers every family the controller must know', () => {
    const families = new Set(knownInstanceTypes().map((type) => type.split('.')[0]));
    for (const family of [
      'm5',
      'c5',
      'r5',
      'm6i',
      'c6g',
      'm6g',
      'm7g',
      'c7i',
      'a1',
      'g4dn',
      't2',
      't3',
      't3a',
      't4g',
      'm4',
      'c4',
      'p3',
    ]) {
      expect(families).toContain(family);
    }
  });

  it('marks whole non-trunk families as such, and every trunking type has branches', () => {
    for (const type of knownInstanceTypes()) {
      const limits = instanceTypeLimits(type)!;
      if (/^(t2|t3|t3a|t4g|m4|c4|p3)\./.test(type)) expect(limits.trunking).toBe(false);
      expect(limits.trunking).toBe(limits.branchInterfaces > 0);
      expect(limits.vcpus).toBeGreaterThan(0);
      expect(limits.memoryMiB).toBeGreaterThan(0);
    }
  });

  it('advertises nothing for unknown types', () => {
    expect(instanceTypeLimits('x9.huge')).toBeUndefined();
    expect(podEniCapacity('x9.huge')).toBe(0);
  });
});
