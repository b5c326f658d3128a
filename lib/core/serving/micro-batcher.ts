/**
 * Groups single requests into model batches. A model answers 16 images in far less than 16 times
 * the time of one, so: one batch runs at a time, and everything that arrives meanwhile waits for
 * it and then goes together (up to `maxSize`). When the model is idle, a request waits at most
 * `maxWaitMs` for company, and a full batch goes at once. Each caller gets its own item's result
 * or error.
 */
import { SystemErrorCode, VistaError } from '../errors';

export interface MicroBatcher<T, R> {
  submit(item: T): Promise<R>;
}

export interface MicroBatcherOptions {
  /** @default 16 */
  maxSize?: number;
  /** @default 5 */
  maxWaitMs?: number;
  /** Batches running at once (more than 1 only helps a model that runs batches in parallel). @default 1 */
  maxInFlight?: number;
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
  const maxInFlight = options.maxInFlight ?? 1;
  if (!(Number.isInteger(maxSize) && maxSize >= 1 && Number.isInteger(maxInFlight) && maxInFlight >= 1 && maxWaitMs >= 0)) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `micro-batcher needs maxSize ≥ 1, maxInFlight ≥ 1, maxWaitMs ≥ 0 (got ${maxSize}, ${maxInFlight}, ${maxWaitMs})`);
  }
  const pending: Waiting<T, R>[] = [];
  let running = 0;
  let timer: NodeJS.Timeout | undefined;

  const start = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0 || running >= maxInFlight) return;
    const batch = pending.splice(0, maxSize);
    running++;
    run(batch.map((w) => w.item))
      .then(
        (results) => batch.forEach((w, i) => w.resolve(results[i])),
        (err: unknown) => batch.forEach((w) => w.reject(err)),
      )
      .finally(() => {
        running--;
        // What arrived meanwhile has waited a whole model call already: it goes now.
        start();
      });
  };

  return {
    submit(item) {
      return new Promise<R>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        if (running >= maxInFlight) return;
        if (pending.length >= maxSize) start();
        else timer ??= setTimeout(start, maxWaitMs);
      });
    },
  };
}
