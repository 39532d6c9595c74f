import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boxContains, disjointBoxes, type Box } from './boxes.js';

const interval = fc
  .tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 15 }))
  .map(([a, b]) => ({ lo: BigInt(Math.min(a, b)), hi: BigInt(Math.max(a, b)) }));
const box = fc.tuple(interval, interval, interval).map((fields): Box => fields);

describe('disjoint boxes', () => {
  it('cover exactly the union of the input, and never overlap (property)', () => {
    fc.assert(
      fc.property(fc.array(box, { maxLength: 8 }), (boxes) => {
        const result = disjointBoxes(boxes);
        for (let x = 0n; x < 16n; x++) {
          for (let y = 0n; y < 16n; y += 3n) {
            for (let z = 0n; z < 16n; z += 5n) {
              const point = [x, y, z];
              const inInput = boxes.some((b) => boxContains(b, point));
              const holders = result.filter((b) => boxContains(b, point)).length;
              expect(holders).toBe(inInput ? 1 : 0);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('drops duplicates and boxes inside others', () => {
    const wide: Box = [{ lo: 0n, hi: 9n }];
    expect(disjointBoxes([wide, [{ lo: 2n, hi: 3n }], wide])).toEqual([wide]);
  });
});
