import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { extendedAllocatablePatch, isExtendedResourceName } from './node-allocatable.js';

/** A JSON merge patch of a flat map: null removes the key. */
const applied = (target: Record<string, string>, patch: Record<string, string | null> = {}) =>
  Object.fromEntries(
    Object.entries({ ...target, ...patch }).filter(
      (entry): entry is [string, string] => entry[1] !== null,
    ),
  );

const own = { cpu: '2', memory: '8Gi', pods: '35', 'ephemeral-storage': '20Gi' };

describe('extended resource names', () => {
  it.each([
    ['vpc.amazonaws.com/pod-eni', true],
    ['nvidia.com/gpu', true],
    ['example.com/foo_bar.baz', true],
    ['cpu', false],
    ['memory', false],
    ['hugepages-2Mi', false],
    ['kubernetes.io/batch', false],
    ['node.kubernetes.io/thing', false],
    // upstream tests for the substring `kubernetes.io/`, so any such suffix is native
    ['notkubernetes.io/thing', false],
    ['requests.example.com/foo', false],
    ['Example.com/foo', false],
    ['example.com/-foo', false],
    ['example.com/a/b', false],
    ['/foo', false],
  ])('%s → %s', (name, expected) => {
    expect(isExtendedResourceName(name)).toBe(expected);
  });
});

describe('the extended resources of allocatable', () => {
  it('copies one that appears in capacity', () => {
    expect(
      extendedAllocatablePatch(
        { ...own, 'vpc.amazonaws.com/pod-eni': '9' },
        { ...own, cpu: '1930m', memory: '7291Mi' },
      ),
    ).toEqual({ 'vpc.amazonaws.com/pod-eni': '9' });
  });

  it('is undefined when they agree (the kubelet does not patch again)', () => {
    expect(extendedAllocatablePatch(own, { ...own, cpu: '1930m' })).toBeUndefined();
    expect(
      extendedAllocatablePatch(
        { ...own, 'vpc.amazonaws.com/pod-eni': '9' },
        { ...own, 'vpc.amazonaws.com/pod-eni': '9' },
      ),
    ).toBeUndefined();
    expect(
      extendedAllocatablePatch({ 'example.com/x': '1k' }, { 'example.com/x': '1000' }),
    ).toBeUndefined();
    expect(extendedAllocatablePatch(undefined, undefined)).toBeUndefined();
    expect(extendedAllocatablePatch({}, own)).toBeUndefined();
  });

  it('follows a changed quantity and removes one gone from capacity', () => {
    expect(
      extendedAllocatablePatch(
        { ...own, 'vpc.amazonaws.com/pod-eni': '2' },
        { ...own, 'vpc.amazonaws.com/pod-eni': '9', 'nvidia.com/gpu': '1' },
      ),
    ).toEqual({ 'vpc.amazonaws.com/pod-eni': '2', 'nvidia.com/gpu': null });
    expect(extendedAllocatablePatch(own, { ...own, 'vpc.amazonaws.com/pod-eni': '9' })).toEqual({
      'vpc.amazonaws.com/pod-eni': null,
    });
  });

  it('leaves native resources alone, in either map', () => {
    expect(
      extendedAllocatablePatch(
        { cpu: '4', 'kubernetes.io/batch': '1', 'example.com/x': '3' },
        { cpu: '1', memory: '1Gi', 'node.kubernetes.io/y': '2' },
      ),
    ).toEqual({ 'example.com/x': '3' });
  });

  it('makes a negative capacity 0 and skips what is no quantity', () => {
    expect(extendedAllocatablePatch({ 'example.com/x': '-2' }, {})).toEqual({
      'example.com/x': '0',
    });
    expect(extendedAllocatablePatch({ 'example.com/x': '-2' }, { 'example.com/x': '0' })).toBe(
      undefined,
    );
    expect(extendedAllocatablePatch({ 'example.com/x': 3 }, {})).toEqual({ 'example.com/x': '3' });
    expect(extendedAllocatablePatch({ 'example.com/x': { v: 1 } }, {})).toBeUndefined();
  });

  it('applied as a merge patch, brings allocatable in line with capacity, then has nothing to do', () => {
    const name = fc.constantFrom('vpc.amazonaws.com/pod-eni', 'nvidia.com/gpu', 'example.com/x');
    const list = fc.dictionary(name, fc.nat({ max: 20 }).map(String));
    fc.assert(
      fc.property(list, list, (extendedCapacity, extendedAllocatable) => {
        const capacity = { ...own, ...extendedCapacity };
        const allocatable = { ...own, cpu: '1930m', ...extendedAllocatable };
        const patch = extendedAllocatablePatch(capacity, allocatable);
        const next = applied(allocatable, patch);
        expect(next).toEqual({ ...own, cpu: '1930m', ...extendedCapacity });
        expect(extendedAllocatablePatch(capacity, next)).toBeUndefined();
      }),
    );
  });
});
