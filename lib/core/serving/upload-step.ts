/**
 * The upload trigger's core: S3 "object created" notifications (delivered through SQS) → one
 * enrichment per uploaded image → its result, or its error record, written under the results
 * prefix. Nothing is lost: an image the endpoint refuses (corrupt, not an image…) gets an
 * `<image_id>.error.json`; a message that could not be handled (endpoint down, storage error,
 * malformed notification) is returned as failed, so SQS redelivers it and, in the end, parks it
 * in the dead-letter queue.
 */
import { imageIdFromUri } from '../image-id';
import { mapWithConcurrency } from '../io/concurrency';
import { joinUri, removeFiles, writeJsonAtomic } from '../io/location';
import type { Logger } from '../log';
import type { InferenceClient } from './inference-client';
import type { EnrichResult } from './protocol';
import { failureFromAnswer, writeInboxRecord } from './realtime-inbox';

export interface QueueMessage {
  messageId: string;
  body: string;
}

export interface UploadStepOptions extends OutcomeTarget {
  client: InferenceClient;
  /** Time left to this invocation: calls that cannot finish before it are not started (their messages are retried). */
  remainingMs?: () => number;
  /** Images enriched at once per invocation. @default 4 */
  concurrency?: number;
  logger?: Logger;
}

export interface UploadStepResult {
  /** SQS partial-batch response: these messages are redelivered. */
  batchItemFailures: { itemIdentifier: string }[];
  written: { results: number; errors: number };
}

/** Kept for writing the record after the call. */
const WRITE_MARGIN_MS = 5_000;
const MIN_CALL_MS = 2_000;

interface S3Notification {
  Event?: string;
  Records?: { eventName?: string; s3?: { bucket?: { name?: string }; object?: { key?: string } } }[];
}

/** s3:// URIs of the created objects; [] for S3's test event; throws on anything else. */
export function uploadedUris(body: string): string[] {
  const message = JSON.parse(body) as S3Notification;
  if (message.Event === 's3:TestEvent') return [];
  if (!Array.isArray(message.Records)) throw new Error('not an S3 event notification');
  return message.Records.filter((r) => r.eventName?.startsWith('ObjectCreated:')).map((r) => {
    const bucket = r.s3?.bucket?.name;
    const key = r.s3?.object?.key;
    if (!bucket || !key) throw new Error('S3 record without bucket or key');
    // Keys arrive URL-encoded, spaces as '+'.
    return `s3://${bucket}/${decodeURIComponent(key.replace(/\+/g, ' '))}`;
  });
}

/** Where an upload's outcome goes: its latest-outcome view, and the inbox for the ingest. */
export interface OutcomeTarget {
  resultsUri: string;
  /** @default - none: results only */
  inboxUri?: string;
}

/**
 * Writes one upload's outcome, as the endpoint answered it (status and JSON body): 200 →
 * `<image_id>.json`, a refusal (< 500) → `<image_id>.error.json`, then the inbox record. Throws on
 * a server error (≥ 500): nothing is written and the caller retries. Shared by the synchronous
 * upload step and the completion of asynchronous inferences (async-upload.ts), so that both
 * write exactly the same records.
 */
export async function writeUploadOutcome(target: OutcomeTarget, image: { imageId: string; uri: string }, status: number, body: unknown): Promise<'results' | 'errors'> {
  const { imageId, uri } = image;
  const [resultUri, errorUri] = [joinUri(target.resultsUri, `${imageId}.json`), joinUri(target.resultsUri, `${imageId}.error.json`)];
  if (status >= 200 && status < 300) {
    await writeJsonAtomic(resultUri, body);
    // A re-upload under the same key replaces what an earlier upload left.
    await removeFiles([errorUri]);
    // Last: a crash before it redelivers the message, and the ingest applies records in order.
    if (target.inboxUri) await writeInboxRecord(target.inboxUri, imageId, { kind: 'result', result: body as EnrichResult });
    return 'results';
  }
  if (status >= 500) throw new Error(`endpoint answered ${status}: ${JSON.stringify(body).slice(0, 300)}`);
  await removeFiles([resultUri]);
  const failure = failureFromAnswer(imageId, uri, status, body);
  await writeJsonAtomic(errorUri, failure);
  if (target.inboxUri) await writeInboxRecord(target.inboxUri, imageId, { kind: 'error', error: failure });
  return 'errors';
}

export async function enrichUploads(messages: QueueMessage[], options: UploadStepOptions): Promise<UploadStepResult> {
  const failures: { itemIdentifier: string }[] = [];
  const written = { results: 0, errors: 0 };

  const enrichOne = async (uri: string) => {
    const imageId = imageIdFromUri(uri);
    let timeoutMs: number | undefined;
    if (options.remainingMs) {
      timeoutMs = options.remainingMs() - WRITE_MARGIN_MS;
      if (timeoutMs < MIN_CALL_MS) throw new Error('not enough time left in this invocation');
    }
    const { status, body } = await options.client.enrich({ uri, image_id: imageId, include_embedding: true }, { timeoutMs });
    written[await writeUploadOutcome(options, { imageId, uri }, status, body)]++;
  };

  await mapWithConcurrency(messages, options.concurrency ?? 4, async (message) => {
    try {
      for (const uri of uploadedUris(message.body)) await enrichOne(uri);
    } catch (err) {
      options.logger?.warn('upload not enriched: will be retried', { message_id: message.messageId, error: err instanceof Error ? err.message : String(err) });
      failures.push({ itemIdentifier: message.messageId });
    }
  });
  return { batchItemFailures: failures, written };
}
