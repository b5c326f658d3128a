import { makeMicroBatcher } from '../../lib/core/serving/micro-batcher';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('micro-batcher', () => {
  it('groups what arrives while a batch runs into the next batch, up to maxSize, one batch at a time', async () => {
    const batches: number[][] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const batcher = makeMicroBatcher<number, number>({ maxSize: 8, maxWaitMs: 2 }, async (items) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      batches.push(items);
      await sleep(20);
      concurrent--;
      return items.map((x) => x * 10);
    });
    const first = batcher.submit(0);
    await sleep(5); // the first batch is running now
    const rest = Array.from({ length: 20 }, (_, i) => batcher.submit(i + 1));
    expect(await Promise.all([first, ...rest])).toEqual(Array.from({ length: 21 }, (_, i) => i * 10));
    expect(maxConcurrent).toBe(1);
    expect(batches.map((b) => b.length)).toEqual([1, 8, 8, 4]);
    expect(batches.flat()).toEqual(Array.from({ length: 21 }, (_, i) => i));
  });

  it('sends a lone item after maxWaitMs, and a full batch at once', async () => {
    const sizes: number[] = [];
    const batcher = makeMicroBatcher<number, number>({ maxSize: 3, maxWaitMs: 300 }, async (items) => {
      sizes.push(items.length);
      return items;
    });
    const t0 = Date.now();
    await batcher.submit(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    const t1 = Date.now();
    await Promise.all([batcher.submit(1), batcher.submit(2), batcher.submit(3)]);
    // Far less than maxWaitMs, with room for a slow machine.
    expect(Date.now() - t1).toBeLessThan(200);
    expect(sizes).toEqual([1, 3]);
  });

  it('fails every item of a failed batch with its error, and keeps serving', async () => {
    let calls = 0;
    const batcher = makeMicroBatcher<number, number>({ maxSize: 2, maxWaitMs: 1 }, async (items) => {
      if (++calls === 1) throw new Error('model gone');
      return items;
    });
    await expect(Promise.all([batcher.submit(1), batcher.submit(2)])).rejects.toThrow('model gone');
    expect(await batcher.submit(3)).toBe(3);
  });
});
