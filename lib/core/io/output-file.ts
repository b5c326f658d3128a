/**
 * A local output file written through a temporary name (`*.tmp-PID-N`, as every local write:
 * listings skip it, resumes remove it) and renamed into place once complete, so a reader never
 * sees half a file. Writes respect the stream's back-pressure.
 */
import { once } from 'node:events';
import { createWriteStream, promises as fs, type WriteStream } from 'node:fs';
import * as path from 'node:path';
import { localTempPath } from './location';

export interface OutputFile {
  write(data: string | Uint8Array): Promise<void>;
  /** Bytes written so far. */
  readonly bytes: number;
  /** Flushes, then (once `verify` of the complete temporary file resolves) renames into place. */
  commit(verify?: (tempPath: string) => Promise<void>): Promise<void>;
  /** Removes the partial file. */
  abort(): Promise<void>;
}

export async function openOutputFile(target: string): Promise<OutputFile> {
  await fs.mkdir(path.dirname(path.resolve(target)), { recursive: true });
  const temp = localTempPath(target);
  const stream: WriteStream = createWriteStream(temp);
  let bytes = 0;
  const closed = () => new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return {
    async write(data) {
      bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
      if (!stream.write(data)) await once(stream, 'drain');
    },
    get bytes() {
      return bytes;
    },
    async commit(verify) {
      await closed();
      await verify?.(temp);
      await fs.rename(temp, target);
    },
    async abort() {
      // Writes still queued fail once the stream is destroyed: expected, not an error to raise.
      stream.on('error', () => undefined);
      stream.destroy();
      // Not events.once: it would reject on that expected error.
      if (!stream.closed) await new Promise<void>((resolve) => stream.once('close', () => resolve()));
      await fs.rm(temp, { force: true });
    },
  };
}
