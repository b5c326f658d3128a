import { makeLimiter, mapWithConcurrency } from '../../lib/core/io/concurrency';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('mapWithConcurrency', () => {
  it('keeps order and never runs more than the limit at once', async () => {
    let active = 0;
    let peak = 0;
    const result = await mapWithConcurrency([5, 1, 4, 2, 3, 0, 6], 3, async (n, i) => {
      active++;
      peak = Math.max(peak, active);
      for (let k = 0; k < n; k++) await tick();
      active--;
      return n * 10 + i;
    });
    expect(result).toEqual([50, 11, 42, 23, 34, 5, 66]);
    expect(peak).toBe(3);
  });

  it('rejects with the first error and starts nothing after it', async () => {
    const started: number[] = [];
    const run = mapWithConcurrency([0, 1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      await tick();
      if (n === 1) throw new Error('boom');
      return n;
    });
    await expect(run).rejects.toThrow('boom');
    expect(started).not.toContain(5);
  });

  it('handles empty input and rejects a bad limit', async () => {
    await expect(mapWithConcurrency([], 4, async () => 1)).resolves.toEqual([]);
    await expect(mapWithConcurrency([1], 0, async () => 1)).rejects.toThrow(RangeError);
  });
});

describe('makeLimiter', () => {
  it('queues tasks beyond the limit and runs them in call order', async () => {
    const limit = makeLimiter(2);
    const order: string[] = [];
    let active = 0;
    let peak = 0;
    const task = (name: string) => async () => {
      active++;
      peak = Math.max(peak, active);
      order.push(name);
      await tick();
      active--;
      return name;
    };
    const results = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((n) => limit(task(n))));
    expect(results).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(peak).toBe(2);
  });

  it('frees the slot when a task throws synchronously or rejects', async () => {
    const limit = makeLimiter(1);
    await expect(limit(() => { throw new Error('sync'); })).rejects.toThrow('sync');
    await expect(limit(() => Promise.reject(new Error('async')))).rejects.toThrow('async');
    await expect(limit(async () => 'still works')).resolves.toBe('still works');
  });
});
