/**
 * Reads a byte stream into one Buffer, refusing to hold more than a cap: the declared length is
 * not trusted (servers lie, objects change between HEAD and GET), so the cap is enforced while
 * streaming and the stream is destroyed as soon as it is exceeded.
 */
import { ImageErrorCode, VistaError } from '../errors';

export function tooLarge(what: string, size: number | string, maxBytes: number): VistaError {
  return new VistaError(ImageErrorCode.TOO_LARGE, `${what} is ${size} bytes, over the ${maxBytes}-byte limit`, {
    details: { maxBytes },
  });
}

export interface CappedReadOptions {
  maxBytes: number;
  /** Called to stop the transfer when the cap is hit. */
  abort?: () => void;
}

export async function readCapped(what: string, body: AsyncIterable<Uint8Array>, options: CappedReadOptions): Promise<Buffer> {
  const { maxBytes, abort } = options;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      abort?.();
      throw tooLarge(what, `more than ${maxBytes}`, maxBytes);
    }
    chunks.push(chunk);
  }
  if (chunks.length === 1 && Buffer.isBuffer(chunks[0])) return chunks[0];
  return Buffer.concat(chunks, total);
}
