import { describe, expect, it } from 'vitest';
import { humanDuration } from './human-duration.js';

describe('humanDuration (apimachinery duration.HumanDuration)', () => {
  it.each([
    [-5_000, '<invalid>'],
    [-500, '0s'],
    [0, '0s'],
    [45_000, '45s'],
    [119_000, '119s'],
    [120_000, '2m'],
    [200_000, '3m20s'],
    [600_000, '10m'],
    [179 * 60_000, '179m'],
    [3 * 3_600_000, '3h'],
    [(2 * 60 + 5) * 60_000 + 3 * 3_600_000, '5h5m'],
    [30 * 3_600_000, '30h'],
    [(3 * 24 + 4) * 3_600_000, '3d4h'],
    [10 * 24 * 3_600_000, '10d'],
    [(3 * 365 + 12) * 24 * 3_600_000, '3y12d'],
    [9 * 365 * 24 * 3_600_000, '9y'],
  ])('%d ms → %s', (milliseconds, expected) => {
    expect(humanDuration(milliseconds)).toBe(expected);
  });
});
