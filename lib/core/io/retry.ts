/**
 * Retries with exponential backoff and full jitter, and per-attempt timeouts. Only failures marked
 * transient (throttling, 5xx, timeouts, connection resets) are retried: a missing or forbidden
 * object will not appear by asking again, and retrying it would only slow the shard down.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageErrorCode, VistaError } from '../errors';

/**
 * A failure worth another attempt. Still a VistaError, so callers that give up can report it as is.
 * `throttled`: the server asked us to slow down (503 SlowDown, 429), which callers answer by
 * lowering their concurrency and by waiting longer, not by failing the image.
 */
export class TransientError extends VistaError {
  constructor(
    code: typeof ImageErrorCode.FETCH_FAILED | typeof ImageErrorCode.FETCH_TIMEOUT,
    message: string,
    cause?: unknown,
    readonly throttled = false,
  ) {
    super(code, message, { cause, details: throttled ? { throttled: true } : undefined });
    this.name = 'TransientError';
  }
}

export function isThrottled(err: unknown): boolean {
  return err instanceof TransientError && err.throttled;
}

/**
 * A failure that was transient when it happened, even after the retries were spent: the
 * worker tries such images once more at the end of a shard.
 */
export function isTransientFailure(err: unknown): boolean {
  return err instanceof TransientError || (err instanceof VistaError && err.details?.transient === true);
}

export interface RetryPolicy {
  /** Attempts after the first one. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Attempts after the first for throttled failures. @default retries */
  throttleRetries?: number;
  /** Backoff base for throttled failures. @default baseDelayMs */
  throttleBaseDelayMs?: number;
}

/** Full jitter: uniform in [0, min(max, base·2^attempt)], which spreads synchronized clients apart. */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/** Runs `op` until it succeeds, fails with a non-transient error, or the retries are spent. */
export async function withRetries<T>(policy: RetryPolicy, op: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op(attempt);
    } catch (err) {
      const throttled = isThrottled(err);
      const retries = throttled ? (policy.throttleRetries ?? policy.retries) : policy.retries;
      if (!(err instanceof TransientError) || attempt >= retries) {
        if (err instanceof VistaError && attempt > 0) {
          throw new VistaError(err.code, `${err.message} (after ${attempt + 1} attempts)`, {
            cause: err.cause ?? err,
            details: { ...err.details, attempts: attempt + 1, ...(err instanceof TransientError ? { transient: true } : {}) },
          });
        }
        throw err;
      }
      const baseDelayMs = throttled ? (policy.throttleBaseDelayMs ?? policy.baseDelayMs) : policy.baseDelayMs;
      await sleep(backoffDelayMs(attempt, { ...policy, baseDelayMs }));
    }
  }
}

/**
 * Runs `op` with a signal that aborts after `timeoutMs`. The result is raced against the timer as
 * well, because not everything honours the signal (a stuck network filesystem read does not).
 * A failure after that moment becomes a transient FETCH_TIMEOUT whatever the underlying error was.
 */
export async function withTimeout<T>(timeoutMs: number, what: string, op: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new TransientError(ImageErrorCode.FETCH_TIMEOUT, `${what}: no complete response within ${timeoutMs} ms`);
      controller.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    return await Promise.race([op(controller.signal), expired]);
  } catch (err) {
    if (controller.signal.aborted) throw controller.signal.reason as TransientError;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

// Some wrappers keep only the text of the original error (the SDK does for errors from another realm).
const TRANSIENT_NETWORK_MESSAGE = /socket hang up|TimeoutError|ECONNRESET|EPIPE|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN/;

/** True for dropped connections and socket timeouts, looking through `cause` chains (fetch wraps them). */
export function isTransientNetworkError(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, name, message } = e as { code?: string; name?: string; message?: string };
    if (code && TRANSIENT_NETWORK_CODES.has(code)) return true;
    if (name === 'TimeoutError' || (typeof message === 'string' && TRANSIENT_NETWORK_MESSAGE.test(message))) return true;
  }
  return false;
}

/** Throttling and server-side failures: the same request may well succeed later. */
export function isTransientStatus(status: number | undefined): boolean {
  return status === 429 || (status !== undefined && status >= 500 && status !== 501);
}
