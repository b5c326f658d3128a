import { makeBatcher } from '../../lib/core/pipeline/batcher';

describe('makeBatcher', () => {
  it('emits full batches in order and a last partial one on flush', async () => {
    const seen: number[][] = [];
    const b = makeBatcher<number>({ size: 3 }, async (batch) => {
      seen.push(batch);
    });
    for (let i = 0; i < 8; i++) await b.push(i);
    await b.flush();
    expect(seen).toEqual([[0, 1, 2], [3, 4, 5], [6, 7]]);
  });

  it('applies backpressure: push waits while batches queue behind a slow consumer', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = makeBatcher<number>({ size: 1, maxQueued: 1 }, async () => gate);
    await b.push(1); // consumed (blocked in the consumer)
    await b.push(2); // queued
    let third = false;
    const p = b.push(3).then(() => (third = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBe(false);
    release();
    await p;
    await b.flush();
    expect(third).toBe(true);
  });

  it('surfaces a consumer failure on flush', async () => {
    const b = makeBatcher<number>({ size: 2 }, async () => {
      throw new Error('boom');
    });
    await b.push(1);
    await b.push(2);
    await expect(b.flush()).rejects.toThrow('boom');
  });
});
