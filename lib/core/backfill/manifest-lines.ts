/**
 * Streaming access to a manifest (local file or S3 object, optionally gzipped): its lines one at
 * a time, never the whole file in memory.
 */
import type { Readable } from 'node:stream';
import { SystemErrorCode, VistaError } from '../errors';
import { readLines } from '../io/lines';
import { openReadStream } from '../io/location';

async function openManifest(uri: string): Promise<Readable> {
  try {
    return await openReadStream(uri);
  } catch (err) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `cannot open manifest ${uri}: ${(err as Error).message}`, { cause: err });
  }
}

function linesOf(uri: string, raw: Readable): AsyncGenerator<string> {
  return readLines(raw, {
    gzip: /\.gz$/i.test(uri),
    invalidGzip: (err) => new VistaError(SystemErrorCode.CONFIG_INVALID, `manifest ${uri} is not valid gzip: ${err.message}`, { cause: err }),
  });
}

/** Lines with their 1-based line numbers (what a person looks up in an editor). */
export async function* readManifestLines(uri: string): AsyncGenerator<{ lineNumber: number; text: string }> {
  const raw = await openManifest(uri);
  let lineNumber = 0;
  for await (const text of linesOf(uri, raw)) yield { lineNumber: ++lineNumber, text };
}
