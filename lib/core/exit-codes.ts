/**
 * Process exit codes, read by AWS Batch's retry strategy (and the local runner that mimics it):
 * 1, a failure a retry may fix (network, storage, a lost GPU), is retried; 2, bad usage or
 * configuration or a missing/invalid model or taxonomy (the same job would fail the same way), is not.
 */
import { SystemErrorCode, type VistaErrorCode } from './errors';

export const EXIT_RETRYABLE = 1;
export const EXIT_PERMANENT = 2;

/** Failures that the same job, retried, would meet again. */
export const PERMANENT_ERROR_CODES: ReadonlySet<VistaErrorCode> = new Set([
  SystemErrorCode.CONFIG_INVALID,
  SystemErrorCode.MODEL_INVALID,
  SystemErrorCode.MODEL_NOT_FOUND,
  SystemErrorCode.TAXONOMY_INVALID,
  SystemErrorCode.REQUEST_INVALID,
  SystemErrorCode.OUTPUT_INVALID,
  SystemErrorCode.SHARD_INVALID,
  SystemErrorCode.STORE_MODEL_MISMATCH,
]);

export function exitCodeFor(code: VistaErrorCode): number {
  return PERMANENT_ERROR_CODES.has(code) ? EXIT_PERMANENT : EXIT_RETRYABLE;
}
