/**
 * Every failure Vista reports is a typed value with a stable code. Per-image codes end up in
 * `errors.jsonl` and the failed-images table, so they are part of the data contract: add codes,
 * never rename them.
 */
export const ImageErrorCode = {
  /** The shard line could not be parsed or has no usable URI. */
  INVALID_ENTRY: 'INVALID_ENTRY',
  /** The object or file does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** The object store refused access. */
  ACCESS_DENIED: 'ACCESS_DENIED',
  /** Fetching kept failing (throttling, 5xx, network) after all retries. */
  FETCH_FAILED: 'FETCH_FAILED',
  /** Fetching took longer than the configured timeout. */
  FETCH_TIMEOUT: 'FETCH_TIMEOUT',
  /** The file is larger than the byte cap. */
  TOO_LARGE: 'TOO_LARGE',
  /** The file has zero bytes. */
  EMPTY: 'EMPTY',
  /** Not an image at all (text, HTML, unknown magic bytes). */
  NOT_AN_IMAGE: 'NOT_AN_IMAGE',
  /** An image format we refuse on purpose (SVG, PDF, …): vector formats can hide scripts and bombs. */
  UNSUPPORTED_FORMAT: 'UNSUPPORTED_FORMAT',
  /** Width × height exceeds the pixel limit (decompression bomb guard), checked before decoding. */
  TOO_MANY_PIXELS: 'TOO_MANY_PIXELS',
  /** The decoder failed: truncated or corrupt data. */
  CORRUPT_IMAGE: 'CORRUPT_IMAGE',
  /** The model failed on this image's batch (the batch is retried image by image first). */
  MODEL_FAILED: 'MODEL_FAILED',
} as const;
export type ImageErrorCode = (typeof ImageErrorCode)[keyof typeof ImageErrorCode];

/**
 * Failures that say nothing about the image itself (the store or the network failed, past every
 * retry). Such an outcome never replaces an earlier good row of the image in the store: a later
 * run's bad hour must not delete what an earlier run embedded. It is still recorded.
 */
export const TRANSIENT_IMAGE_ERROR_CODES: ReadonlySet<string> = new Set<ImageErrorCode>([ImageErrorCode.FETCH_FAILED, ImageErrorCode.FETCH_TIMEOUT]);

/** Failures of the system itself (bad config, missing model, unreachable store): these stop a run. */
export const SystemErrorCode = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  MODEL_INVALID: 'MODEL_INVALID',
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  TAXONOMY_INVALID: 'TAXONOMY_INVALID',
  SHARD_NOT_FOUND: 'SHARD_NOT_FOUND',
  /** The shard file cannot be read as a shard (e.g. a corrupt or truncated .gz). */
  SHARD_INVALID: 'SHARD_INVALID',
  /** The model stopped answering (its thread died, the GPU was lost): a retry on a fresh host may work. */
  MODEL_UNAVAILABLE: 'MODEL_UNAVAILABLE',
  OUTPUT_INVALID: 'OUTPUT_INVALID',
  STORE_FAILED: 'STORE_FAILED',
  /** Another writer (a run, the real-time ingest, an index build) holds the store's writer lease. */
  STORE_BUSY: 'STORE_BUSY',
  /** The store holds embeddings of another model or width: loading would mix them (ask for a new table). */
  STORE_MODEL_MISMATCH: 'STORE_MODEL_MISMATCH',
  REQUEST_INVALID: 'REQUEST_INVALID',
  /** A cached label bank does not match its recorded model/taxonomy, its checksum, or the model's own text embeddings: refused, never used. */
  LABEL_BANK_INVALID: 'LABEL_BANK_INVALID',
} as const;
export type SystemErrorCode = (typeof SystemErrorCode)[keyof typeof SystemErrorCode];

export type VistaErrorCode = ImageErrorCode | SystemErrorCode;

export class VistaError extends Error {
  readonly code: VistaErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: VistaErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VistaError';
    this.code = code;
    this.details = options?.details;
  }

  toJSON(): { code: VistaErrorCode; message: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isVistaError(err: unknown): err is VistaError {
  return err instanceof VistaError;
}

/** A VistaError carrying one of Vista's codes (errors from elsewhere may have a `code` too). */
export function isVistaErrorCode(code: unknown): code is VistaErrorCode {
  return typeof code === 'string' && (code in ImageErrorCode || code in SystemErrorCode);
}

/** Wraps anything thrown into a VistaError, keeping codes that are already typed. */
export function toVistaError(err: unknown, fallback: VistaErrorCode): VistaError {
  if (isVistaError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new VistaError(fallback, message, { cause: err });
}
