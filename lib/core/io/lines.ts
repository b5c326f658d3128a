/**
 * The lines of a stream (optionally gzipped), one at a time, never the whole file in memory.
 * Shared by the shard reader, the manifest reader and the failure-record reader.
 */
import { createInterface } from 'node:readline';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export interface ReadLinesOptions {
  gzip?: boolean;
  /** The typed error for data that is not valid gzip (zlib's Z_* errors). */
  invalidGzip?: (err: Error) => Error;
}

export async function* readLines(stream: Readable, options: ReadLinesOptions = {}): AsyncGenerator<string> {
  // pipeline(), not pipe(): an error of the source (a reset S3 body) must reach the reader, not
  // become an unhandled 'error' event that kills the process.
  const input = options.gzip ? pipeline(stream, createGunzip(), () => undefined) : stream;
  try {
    yield* createInterface({ input, crlfDelay: Infinity });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (options.invalidGzip && typeof code === 'string' && code.startsWith('Z_')) throw options.invalidGzip(err as Error);
    throw err;
  } finally {
    // Also when the consumer stops early: do not leave an S3 socket open.
    stream.destroy();
  }
}
