/**
 * Reads an S3 object with one GET: the announced ContentLength is checked before the body is
 * read, and the cap is enforced again while streaming.
 */
import { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { ImageErrorCode, VistaError } from '../errors';
import { readCapped, tooLarge } from './read-capped';
import { getS3Client, parseS3Uri } from './s3';
import { classifyS3Error } from './source-errors';

export async function fetchS3Object(uri: string, maxBytes: number, timeoutMs: number, signal: AbortSignal): Promise<Buffer> {
  const { bucket, key } = parseS3Uri(uri);
  if (!key) throw new VistaError(ImageErrorCode.INVALID_ENTRY, `${uri}: no object key`);
  // One SDK attempt per call: our own loop retries (with jitter and the per-attempt timeout), and
  // stacking the SDK's attempts under it would multiply both.
  const client = getS3Client({ maxAttempts: 1, requestTimeoutMs: timeoutMs });

  let body: Readable;
  let length: number | undefined;
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    body = out.Body as Readable;
    length = out.ContentLength;
  } catch (err) {
    throw classifyS3Error(uri, err);
  }
  const onAbort = (): void => void body.destroy(signal.reason as Error);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (length !== undefined && length > maxBytes) throw tooLarge(uri, length, maxBytes);
    if (length === 0) throw new VistaError(ImageErrorCode.EMPTY, `${uri}: empty object`);
    return await readCapped(uri, body, { maxBytes, abort: () => body.destroy() });
  } catch (err) {
    body.destroy();
    throw classifyS3Error(uri, err);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
