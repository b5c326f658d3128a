/** Reads a local file: size checked with `stat` before a single byte is read. */
import { promises as fs } from 'node:fs';
import { ImageErrorCode, VistaError } from '../errors';
import { tooLarge } from './read-capped';
import { classifyFsError } from './source-errors';

export async function fetchLocalFile(file: string, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  let size: number;
  try {
    // stat before open: opening a FIFO or a device for reading can block a threadpool thread.
    const stats = await fs.stat(file);
    if (!stats.isFile()) throw new VistaError(ImageErrorCode.NOT_FOUND, `${file}: not a regular file`);
    size = stats.size;
  } catch (err) {
    throw classifyFsError(file, err);
  }
  if (size > maxBytes) throw tooLarge(file, size, maxBytes);
  if (size === 0) throw new VistaError(ImageErrorCode.EMPTY, `${file}: empty file`);

  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'r');
    // Read what stat announced and no more, so a file growing under us cannot pass the cap.
    const buffer = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size && !signal.aborted) {
      const { bytesRead } = await handle.read(buffer, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (signal.aborted) throw signal.reason;
    return filled === size ? buffer : buffer.subarray(0, filled);
  } catch (err) {
    throw classifyFsError(file, err);
  } finally {
    await handle?.close();
  }
}
