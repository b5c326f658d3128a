/**
 * Batcher: groups items into fixed-size batches and hands them to one consumer at a time, so
 * the model works on batch k while the decoders fill batch k+1. `push` waits when batches
 * queue up (backpressure), which is what keeps memory bounded whatever the shard size.
 */
export interface Batcher<T> {
  push(item: T): Promise<void>;
  /** Sends the last partial batch and waits until every batch has been consumed. */
  flush(): Promise<void>;
}

export interface BatcherOptions {
  size: number;
  /** Full batches allowed to wait behind the one being consumed. @default 1 */
  maxQueued?: number;
}

export function makeBatcher<T>(options: BatcherOptions, consume: (batch: T[]) => Promise<void>): Batcher<T> {
  const maxQueued = options.maxQueued ?? 1;
  let current: T[] = [];
  const queue: T[][] = [];
  let running: Promise<void> | undefined;
  let failure: unknown;
  let waiters: (() => void)[] = [];

  const wakeWaiters = () => {
    const ready = waiters;
    waiters = [];
    ready.forEach((w) => w());
  };

  const drain = async () => {
    while (queue.length > 0) {
      const batch = queue.shift()!;
      wakeWaiters();
      try {
        await consume(batch);
      } catch (err) {
        failure ??= err;
      }
    }
    running = undefined;
    wakeWaiters();
  };

  const enqueue = (batch: T[]) => {
    queue.push(batch);
    running ??= drain();
  };

  return {
    async push(item) {
      if (failure) throw failure;
      current.push(item);
      if (current.length >= options.size) {
        enqueue(current);
        current = [];
      }
      while (queue.length > maxQueued) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    async flush() {
      if (current.length > 0) enqueue(current);
      current = [];
      while (running) await running;
      if (failure) throw failure;
    },
  };
}
