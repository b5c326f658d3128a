/** Messages between the main thread and the decode threads. */
import type { PreprocessSpec, ImageFormat } from '../types';
import type { DecoderConfigInput } from './decoder';

export interface DecodeThreadInit {
  config: DecoderConfigInput;
  spec: PreprocessSpec;
  /** The pixel slots, shared with the main and model threads. */
  slots: SharedArrayBuffer;
  valuesPerSlot: number;
}

/** `bytes` is transferred when the caller's buffer is its own, copied otherwise. */
export interface DecodeRequest {
  id: number;
  bytes: Uint8Array;
  slot: number;
}

export type DecodeReply =
  | { id: number; ok: true; width: number; height: number; format: ImageFormat; contentSha256: string }
  | { id: number; ok: false; error: { code?: string; message: string; details?: Record<string, unknown> } };
