/**
 * The API Lambda's core: a validated request → the inference endpoint → its answer. With
 * `store: true` (the store route, POST /v1/images) the outcome also goes into the catalog store
 * the way uploads do: a result, or the failure of a bad image, is dropped in the real-time inbox
 * (realtime-inbox.ts) before the answer leaves, so a 200 means "stored" too; the ingest then
 * loads it into LanceDB.
 */
import { ImageErrorCode, SystemErrorCode, VistaError } from '../errors';
import { withTimeout } from '../io/retry';
import type { InferenceClient, InferenceResponse } from './inference-client';
import type { EnrichErrorBody, EnrichRequest, EnrichResult } from './protocol';
import { failureFromAnswer, writeInboxRecord } from './realtime-inbox';

export interface ApiStepOptions {
  client: InferenceClient;
  /** Where stored outcomes go. @default - none: `store: true` requests are refused as a configuration error */
  inboxUri?: string;
  timeoutMs?: number;
  /** Longest the store write may take before the request answers STORE_FAILED. @default 2_500 */
  storeTimeoutMs?: number;
}

/**
 * Failures that describe the image bytes themselves, stored as the image's outcome. Not stored: a
 * wrong or unreadable `uri` (NOT_FOUND, ACCESS_DENIED, FETCH_*) or a model hiccup (MODEL_FAILED),
 * which say nothing about the image and must not take a good row out of search.
 */
const STORED_FAILURES = new Set<string>([
  ImageErrorCode.EMPTY,
  ImageErrorCode.TOO_LARGE,
  ImageErrorCode.NOT_AN_IMAGE,
  ImageErrorCode.UNSUPPORTED_FORMAT,
  ImageErrorCode.TOO_MANY_PIXELS,
  ImageErrorCode.CORRUPT_IMAGE,
]);

export async function enrichForApi(request: EnrichRequest, options: ApiStepOptions): Promise<InferenceResponse> {
  const call = { timeoutMs: options.timeoutMs };
  const { store, ...forEndpoint } = request;
  if (!store) return options.client.enrich(forEndpoint, call);
  if (!options.inboxUri) throw new VistaError(SystemErrorCode.CONFIG_INVALID, 'this deployment does not store API outcomes (no real-time inbox configured)');
  const imageId = request.image_id!;
  // The stored row needs the embedding, whatever the caller wants back.
  const answer = await options.client.enrich({ ...forEndpoint, include_embedding: true }, call);
  const inbox = options.inboxUri;
  const stored = (write: () => Promise<unknown>) => withinStoreTime(write, options.storeTimeoutMs ?? 2_500);
  if (answer.status === 200) {
    const result = answer.body as EnrichResult;
    if (result?.image_id !== imageId || !Array.isArray(result.embedding)) {
      throw new VistaError(SystemErrorCode.MODEL_UNAVAILABLE, `the endpoint answered 200 without image ${imageId} and its embedding`);
    }
    await stored(() => writeInboxRecord(inbox, imageId, { kind: 'result', result }));
    if (request.include_embedding) return answer;
    const { embedding: _embedding, ...withoutEmbedding } = result;
    return { status: 200, body: withoutEmbedding };
  }
  const code = (answer.body as Partial<EnrichErrorBody> | undefined)?.error?.code;
  if (code !== undefined && STORED_FAILURES.has(code)) {
    const failure = failureFromAnswer(imageId, request.uri ?? 'inline', answer.status, answer.body);
    await stored(() => writeInboxRecord(inbox, imageId, { kind: 'error', error: failure }));
  }
  return answer;
}

/** The write, or STORE_FAILED once it fails or outlasts `ms` (a late write that lands is harmless: the retry's record is newer). */
async function withinStoreTime(write: () => Promise<unknown>, ms: number): Promise<void> {
  try {
    await withTimeout(ms, 'inbox write', () => write());
  } catch (err) {
    throw new VistaError(SystemErrorCode.STORE_FAILED, `enriched but not stored (retry the request): ${(err as Error).message}`, { cause: err });
  }
}
