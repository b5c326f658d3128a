/** Messages between the main thread and the decode threads. */
import type { PreprocessSpec, ImageFormat } from '../types';
import type { SourceConfigInput } from '../io/source';
import type { DecoderConfigInput } from './decoder';

export interface DecodeThreadInit {
  config: DecoderConfigInput;
  spec: PreprocessSpec;
  /** The pixel slots, shared with the main and model threads. */
  slots: SharedArrayBuffer;
  valuesPerSlot: number;
  /** How the thread fetches when given a URI instead of bytes. */
  source: SourceConfigInput;
}

/**
 * Requests and replies travel in arrays: each side sends what gathered during one turn of its
 * event loop as one message, since a message's fixed cost (not its size) is what the main thread
 * pays per image.
 *
 * Either the image's bytes (transferred) or its URI, which the thread then fetches itself. `env`
 * comes when the main thread's AWS settings changed since this thread last saw them (a thread's
 * process.env is a copy taken when it started).
 */
export type DecodeRequest = {
  id: number;
  slot: number;
  /** The reply may wait a few milliseconds for others (throughput matters, not this image's latency). */
  gather?: boolean;
} & ({ bytes: Uint8Array } | { uri: string; env?: Record<string, string | undefined> });

/** The settings the S3 client reads from the environment. */
export const AWS_ENV_KEYS = [
  'AWS_ENDPOINT_URL_S3',
  'AWS_ENDPOINT_URL',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_REQUEST_CHECKSUM_CALCULATION',
  'AWS_RESPONSE_CHECKSUM_VALIDATION',
] as const;

export type DecodeReply =
  | { id: number; ok: true; width: number; height: number; format: ImageFormat; contentSha256: string }
  | { id: number; ok: false; stage: 'fetch' | 'decode'; error: { code?: string; message: string; details?: Record<string, unknown> } };
