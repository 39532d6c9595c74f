import { describe, expect, it } from 'vitest';
import { TokenBucket } from './api-rate-limit.js';

describe('the API token bucket', () => {
  it('lets a burst through at once, then paces at qps', async () => {
    let clock = 0;
    const slept: number[] = [];
    const bucket = new TokenBucket(
      10,
      3,
      () => clock,
      (ms) => {
        slept.push(ms);
        clock += ms;
        return Promise.resolve();
      },
    );
    for (let index = 0; index < 3; index += 1) await bucket.take();
    expect(slept).toEqual([]);
    await bucket.take();
    await bucket.take();
    expect(slept.map((ms) => Math.round(ms))).toEqual([100, 100]);
    clock += 10_000;
    for (let index = 0; index < 3; index += 1) await bucket.take();
    expect(slept).toHaveLength(2);
  });
});
