/**
 * Lance commits are optimistic: two writers that touch the same fragments (two deletes, a delete
 * and a compaction) make one of them fail with a commit conflict. Such a failure means "try again
 * on the new version", so it is retried with jittered exponential backoff; anything else is not.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SystemErrorCode, VistaError, isVistaError } from '../errors';

export interface CommitRetryPolicy {
  /** Attempts after the first. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_COMMIT_RETRY: CommitRetryPolicy = { retries: 10, baseDelayMs: 50, maxDelayMs: 5_000 };

const CONFLICT = /conflict|retryable|concurrent (write|commit|modification)|was modified|precondition|too many concurrent/i;

/** Errors from LanceDB's native module are not always `instanceof Error` here (jest's VM realm). */
export function errorMessage(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(err);
}

export function isCommitConflict(err: unknown): boolean {
  return !isVistaError(err) && CONFLICT.test(errorMessage(err));
}

/** Retries `op` while `retryable(err)`, with full-jitter backoff; other failures become STORE_FAILED. */
export async function withStoreRetry<T>(
  what: string,
  op: () => Promise<T>,
  retryable: (err: unknown) => boolean,
  policy: CommitRetryPolicy = DEFAULT_COMMIT_RETRY,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!retryable(err) || attempt >= policy.retries) {
        if (isVistaError(err)) throw err;
        throw new VistaError(SystemErrorCode.STORE_FAILED, `${what}: ${errorMessage(err)}`, {
          cause: err,
          details: { attempts: attempt + 1 },
        });
      }
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
      await sleep(Math.floor(Math.random() * ceiling));
    }
  }
}
