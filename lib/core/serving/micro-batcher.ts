/**
 * Groups single requests into model batches: a GPU answers 16 images in about the time of one,
 * so under load requests wait at most `maxWaitMs` for company. A lone request still goes after
 * `maxWaitMs`; a full batch goes at once. Each caller gets its own item's result or error.
 */
export interface MicroBatcher<T, R> {
  submit(item: T): Promise<R>;
}

export interface MicroBatcherOptions {
  /** @default 16 */
  maxSize?: number;
  /** @default 5 */
  maxWaitMs?: number;
}

interface Waiting<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

/** `run` returns one result per item, in order; if it throws, every item of that batch fails with the error. */
export function makeMicroBatcher<T, R>(options: MicroBatcherOptions, run: (items: T[]) => Promise<R[]>): MicroBatcher<T, R> {
  const maxSize = options.maxSize ?? 16;
  const maxWaitMs = options.maxWaitMs ?? 5;
  let pending: Waiting<T, R>[] = [];
  let timer: NodeJS.Timeout | undefined;

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    run(batch.map((w) => w.item)).then(
      (results) => batch.forEach((w, i) => w.resolve(results[i])),
      (err: unknown) => batch.forEach((w) => w.reject(err)),
    );
  };

  return {
    submit(item) {
      return new Promise<R>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        if (pending.length >= maxSize) flush();
        else timer ??= setTimeout(flush, maxWaitMs);
      });
    },
  };
}
