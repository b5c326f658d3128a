/**
 * The SDK retry strategy of every S3 client: the SDK's "standard" retry rules without their two
 * traps under throttling. "adaptive" mode adds a client-side rate limiter whose waits ignore
 * abort signals and the caller's timeouts (attempts abandoned by a timeout kept waiting in it and
 * kept the process alive); "standard" mode has a retry quota (500 tokens, 5 per retry) that a long
 * run of 503 SlowDown drains, after which every error fails at once. Here: full-jitter exponential
 * backoff, a longer base for throttling, more attempts for throttling than for other failures, the
 * server's Retry-After honoured, no quota. Load is shed by the callers that cause it (the image
 * source's adaptive concurrency), not by failing requests.
 */
import { backoffDelayMs } from './retry';

/** The parts of @smithy/types' RetryStrategyV2 this strategy uses (structurally the same). */
interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}
interface RetryErrorInfo {
  errorType: 'THROTTLING' | 'TRANSIENT' | 'SERVER_ERROR' | 'CLIENT_ERROR';
  retryAfterHint?: Date;
}

export interface S3RetryOptions {
  /** Attempts for a failed request (first one included). */
  maxAttempts: number;
  /** Attempts for a throttled request. @default max(maxAttempts, 10), or 1 for a client of one attempt (its caller retries) */
  throttleMaxAttempts?: number;
  /** @default 100 */
  baseDelayMs?: number;
  /** @default 500 */
  throttleBaseDelayMs?: number;
  /** @default 20000 */
  maxDelayMs?: number;
  random?: () => number;
}

const token = (count: number, delay: number): RetryToken => ({ getRetryCount: () => count, getRetryDelay: () => delay });

export class S3RetryStrategy {
  readonly mode = 'standard';
  private readonly options: Required<S3RetryOptions>;

  constructor(options: S3RetryOptions) {
    this.options = {
      throttleMaxAttempts: options.maxAttempts > 1 ? Math.max(options.maxAttempts, 10) : 1,
      baseDelayMs: 100,
      throttleBaseDelayMs: 500,
      maxDelayMs: 20_000,
      random: Math.random,
      ...options,
    };
  }

  async acquireInitialRetryToken(): Promise<RetryToken> {
    return token(0, 0);
  }

  async refreshRetryTokenForRetry(previous: RetryToken, info: RetryErrorInfo): Promise<RetryToken> {
    const { maxAttempts, throttleMaxAttempts, baseDelayMs, throttleBaseDelayMs, maxDelayMs, random } = this.options;
    const throttled = info.errorType === 'THROTTLING';
    const attempts = previous.getRetryCount() + 1;
    if (info.errorType === 'CLIENT_ERROR' || attempts >= (throttled ? throttleMaxAttempts : maxAttempts)) {
      throw new Error('no retry: the error is not retryable or the attempts are spent');
    }
    let delay = backoffDelayMs(previous.getRetryCount(), { retries: 0, baseDelayMs: throttled ? throttleBaseDelayMs : baseDelayMs, maxDelayMs }, random);
    if (info.retryAfterHint) delay = Math.max(delay, Math.min(info.retryAfterHint.getTime() - Date.now(), maxDelayMs));
    return token(attempts, delay);
  }

  recordSuccess(): void {}
}
