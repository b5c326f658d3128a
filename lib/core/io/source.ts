/**
 * Fetches the bytes of one image from a local path, a file:// URL, s3://bucket/key or http(s)://,
 * under a byte cap, a per-attempt timeout and retries with backoff on transient failures.
 * Every failure is a VistaError with a per-image code; the caller bounds concurrency.
 */
import { z } from 'zod';
import { ImageErrorCode, SystemErrorCode, VistaError } from '../errors';
import { toLocalPath } from './location';
import { AdaptiveConcurrency, type AdaptiveConcurrencyStats } from './adaptive-concurrency';
import { isThrottled, withRetries, withTimeout } from './retry';
import { isS3Uri } from './s3';
import { fetchHttp } from './source-http';
import { fetchLocalFile } from './source-local';
import { fetchS3Object } from './source-s3';

export const SourceConfigSchema = z.object({
  /** Larger images fail with TOO_LARGE before their body is read. */
  maxBytes: z.number().int().positive().default(50 * 1024 * 1024),
  /** Per attempt, from request to last byte. */
  timeoutMs: z.number().int().positive().default(30_000),
  /** Attempts after the first, only for throttling, 5xx, timeouts and dropped connections. */
  retries: z.number().int().min(0).max(20).default(4),
  /** Backoff before retry n is uniform in [0, min(retryMaxDelayMs, retryBaseDelayMs·2^n)]. */
  retryBaseDelayMs: z.number().int().min(0).default(200),
  retryMaxDelayMs: z.number().int().min(0).default(10_000),
  /**
   * Attempts after the first for throttled fetches (503 SlowDown, 429): throttling says "later",
   * not "never", so it gets more patience and a longer backoff base.
   */
  throttleRetries: z.number().int().min(0).max(30).default(10),
  throttleBaseDelayMs: z.number().int().min(0).default(1_000),
  /** Fetches at once at most; throttling lowers this (AIMD, see adaptive-concurrency.ts) and successes raise it back. */
  concurrency: z.number().int().min(1).max(1024).default(64),
});
export type SourceConfig = z.output<typeof SourceConfigSchema>;
export type SourceConfigInput = z.input<typeof SourceConfigSchema>;

export interface ImageSource {
  /** The whole object, never empty; throws VistaError(NOT_FOUND | ACCESS_DENIED | TOO_LARGE | EMPTY | FETCH_TIMEOUT | FETCH_FAILED | INVALID_ENTRY). */
  fetch(uri: string): Promise<Buffer>;
  /** How throttling has shaped the fetch concurrency so far. */
  stats?(): AdaptiveConcurrencyStats;
}

type Fetcher = (uri: string, signal: AbortSignal) => Promise<Buffer>;

export function parseSourceConfig(input: SourceConfigInput = {}): SourceConfig {
  const parsed = SourceConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `invalid source config: ${parsed.error.message}`, {
      details: { issues: parsed.error.issues },
    });
  }
  return parsed.data;
}

export function makeImageSource(input: SourceConfigInput = {}): ImageSource {
  const config = parseSourceConfig(input);
  const { maxBytes, timeoutMs } = config;
  const policy = {
    retries: config.retries,
    baseDelayMs: config.retryBaseDelayMs,
    maxDelayMs: config.retryMaxDelayMs,
    throttleRetries: config.throttleRetries,
    throttleBaseDelayMs: config.throttleBaseDelayMs,
  };
  const slots = new AdaptiveConcurrency({ max: config.concurrency });

  const pickFetcher = (uri: string): Fetcher => {
    if (isS3Uri(uri)) return (u, signal) => fetchS3Object(u, maxBytes, timeoutMs, signal);
    if (/^https?:\/\//i.test(uri)) return (u, signal) => fetchHttp(u, maxBytes, signal);
    if (uri.startsWith('file://')) return (u, signal) => fetchLocalFile(fileUrlToPath(u), maxBytes, signal);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
      throw new VistaError(ImageErrorCode.INVALID_ENTRY, `${uri}: unsupported URI scheme`);
    }
    return (u, signal) => fetchLocalFile(toLocalPath(u), maxBytes, signal);
  };

  return {
    async fetch(uri: string): Promise<Buffer> {
      if (!uri) throw new VistaError(ImageErrorCode.INVALID_ENTRY, 'empty URI');
      const fetcher = pickFetcher(uri);
      // The wait for a slot is outside the per-attempt timeout: it is the slowing down, not a stall.
      const bytes = await withRetries(policy, () => slots.run(() => withTimeout(timeoutMs, uri, (signal) => fetcher(uri, signal)), isThrottled));
      if (bytes.length === 0) throw new VistaError(ImageErrorCode.EMPTY, `${uri}: zero bytes`);
      return bytes;
    },
    stats: () => slots.stats(),
  };
}

function fileUrlToPath(uri: string): string {
  try {
    return toLocalPath(uri);
  } catch (err) {
    throw new VistaError(ImageErrorCode.INVALID_ENTRY, `${uri}: ${(err as Error).message}`, { cause: err });
  }
}
