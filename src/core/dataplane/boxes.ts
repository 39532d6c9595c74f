/**
 * Boxes: elements of nftables concatenated interval sets, one closed interval per field.
 * The kernel's interval-concatenation sets (pipapo) refuse an element whose first or last point
 * lies inside another element, so rules compile into *disjoint* boxes covering the same union.
 */

export interface Interval {
  readonly lo: bigint;
  readonly hi: bigint;
}

export type Box = readonly Interval[];

function overlaps(a: Box, b: Box): boolean {
  return a.every((field, i) => {
    const other = b[i];
    return other !== undefined && field.lo <= other.hi && other.lo <= field.hi;
  });
}

/** `box` minus `cut`: at most two pieces per dimension, all disjoint from `cut`. */
function subtract(box: Box, cut: Box): Box[] {
  if (!overlaps(box, cut)) return [box];
  const pieces: Box[] = [];
  const rest = [...box];
  rest.forEach((field, i) => {
    const edge = cut[i];
    if (!edge) return;
    let { lo, hi } = field;
    if (lo < edge.lo) {
      pieces.push(rest.map((f, j) => (j === i ? { lo, hi: edge.lo - 1n } : f)));
      lo = edge.lo;
    }
    if (hi > edge.hi) {
      pieces.push(rest.map((f, j) => (j === i ? { lo: edge.hi + 1n, hi } : f)));
      hi = edge.hi;
    }
    rest[i] = { lo, hi };
  });
  return pieces;
}

/** Disjoint boxes whose union is the union of `boxes` (duplicates and covered boxes vanish). */
export function disjointBoxes(boxes: readonly Box[]): Box[] {
  const result: Box[] = [];
  for (const box of boxes) {
    let pieces: Box[] = [box];
    for (const placed of result) {
      pieces = pieces.flatMap((piece) => subtract(piece, placed));
      if (pieces.length === 0) break;
    }
    result.push(...pieces);
  }
  return result;
}

export function boxContains(box: Box, point: readonly bigint[]): boolean {
  return box.every((field, i) => {
    const value = point[i];
    return value !== undefined && field.lo <= value && value <= field.hi;
  });
}
