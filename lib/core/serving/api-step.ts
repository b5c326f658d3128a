/**
 * The API Lambda's core: a validated request → the inference endpoint → its answer. With
 * `store: true` the outcome also goes into the catalog store the way uploads do: a result, or the
 * failure of a bad image, is dropped in the real-time inbox (realtime-inbox.ts) before the answer
 * leaves, so a 200 means "stored" too; the ingest then loads it into LanceDB.
 */
import { ImageErrorCode, SystemErrorCode, VistaError } from '../errors';
import type { InferenceClient, InferenceResponse } from './inference-client';
import type { EnrichErrorBody, EnrichRequest, EnrichResult } from './protocol';
import { failureFromAnswer, writeInboxRecord } from './realtime-inbox';

export interface ApiStepOptions {
  client: InferenceClient;
  /** Where stored outcomes go. @default - none: `store: true` requests are refused as a configuration error */
  inboxUri?: string;
  timeoutMs?: number;
}

const IMAGE_ERROR_CODES = new Set<string>(Object.values(ImageErrorCode));

export async function enrichForApi(request: EnrichRequest, options: ApiStepOptions): Promise<InferenceResponse> {
  const call = { timeoutMs: options.timeoutMs };
  if (!request.store) return options.client.enrich(request, call);
  if (!options.inboxUri) throw new VistaError(SystemErrorCode.CONFIG_INVALID, 'this deployment does not store API outcomes (no real-time inbox configured)');
  const imageId = request.image_id!;
  // The stored row needs the embedding, whatever the caller wants back.
  const answer = await options.client.enrich({ ...request, include_embedding: true }, call);
  const inbox = options.inboxUri;
  const stored = async (write: () => Promise<unknown>) => {
    try {
      await write();
    } catch (err) {
      throw new VistaError(SystemErrorCode.STORE_FAILED, `enriched but not stored (retry the request): ${(err as Error).message}`, { cause: err });
    }
  };
  if (answer.status === 200) {
    const result = answer.body as EnrichResult;
    await stored(() => writeInboxRecord(inbox, result.image_id, { kind: 'result', result }));
    if (request.include_embedding) return answer;
    const { embedding: _embedding, ...withoutEmbedding } = result;
    return { status: 200, body: withoutEmbedding };
  }
  // A bad image is an outcome to keep (image_errors); a bad request or an outage is not.
  const code = (answer.body as Partial<EnrichErrorBody> | undefined)?.error?.code;
  if (answer.status < 500 && code !== undefined && IMAGE_ERROR_CODES.has(code)) {
    const failure = failureFromAnswer(imageId, request.uri ?? 'inline', answer.status, answer.body);
    await stored(() => writeInboxRecord(inbox, imageId, { kind: 'error', error: failure }));
  }
  return answer;
}
