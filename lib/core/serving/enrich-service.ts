/**
 * One image in, its enrichment out: the real-time path's core, the same stages as the backfill
 * worker (source → decoder → enricher) with a micro-batcher in place of the shard batcher.
 * Knows nothing of HTTP, Lambda or SageMaker.
 */
import { SystemErrorCode, VistaError, type VistaErrorCode } from '../errors';
import { imageIdFromUri } from '../image-id';
import { isModelGone, type DecodedEntry, type Enricher, type EnrichOutcome } from '../pipeline/enricher';
import type { ImageDecoder, ImageFetcher } from '../pipeline/run-shard';
import type { ClipModel, ShardEntry } from '../types';
import { makeMicroBatcher, type MicroBatcherOptions } from './micro-batcher';
import { type EnrichRequest, type EnrichResult, type TextEmbedRequest, type TextEmbedResult, toEnrichResult } from './protocol';
import { makeUriAllowList, redactFetchError } from './uri-allow-list';

export interface EnrichServiceDeps {
  source: ImageFetcher;
  decoder: ImageDecoder;
  enricher: Enricher;
  /** The model's text tower, for text requests (the query API's hybrid search); absent: they are refused. */
  textEncoder?: TextEncoder;
}

export type TextEncoder = Pick<ClipModel, 'id' | 'embedTexts'>;

export interface EnrichServiceOptions extends MicroBatcherOptions {
  /**
   * URI prefixes a request may ask the server to fetch (s3:// or local folders, checked by
   * uri-allow-list.ts). A server that fetches whatever it is told reads its own disk and its
   * network's private hosts (SSRF). @default ['s3://']
   */
  allowedUriPrefixes?: string[];
}

export interface EnrichService {
  /** Throws VistaError: REQUEST_INVALID, an image's own code, or MODEL_UNAVAILABLE. */
  enrich(request: EnrichRequest): Promise<EnrichResult>;
  /** A text's embedding by the same model, micro-batched like images. Throws REQUEST_INVALID without a text tower. */
  embedText(request: TextEmbedRequest): Promise<TextEmbedResult>;
  /** Not ok once the model is gone: every request would fail until the process is replaced. */
  health(): { ok: true } | { ok: false; reason: string };
  readonly stats: { requests: number; batches: number };
}

export function makeEnrichService(deps: EnrichServiceDeps, options: EnrichServiceOptions = {}): EnrichService {
  const allowList = makeUriAllowList(options.allowedUriPrefixes ?? ['s3://']);
  const stats = { requests: 0, batches: 0 };
  let modelGone: string | undefined;
  const batcher = makeMicroBatcher<DecodedEntry, EnrichOutcome>(options, async (batch) => {
    stats.batches++;
    try {
      return await deps.enricher.enrich(batch);
    } catch (err) {
      if (isModelGone(err)) modelGone ??= (err as Error).message;
      throw err;
    }
  });

  const encoder = deps.textEncoder;
  const textBatcher = encoder
    ? makeMicroBatcher<string, Float32Array>(options, async (texts) => {
        stats.batches++;
        return encoder.embedTexts(texts);
      })
    : undefined;

  const bytesOf = async (request: EnrichRequest): Promise<Buffer> => {
    if (request.image_bytes !== undefined) return request.image_bytes;
    if (request.image_base64 !== undefined) return decodeBase64(request.image_base64);
    const uri = request.uri!;
    const target = await allowList.check(uri);
    try {
      return await deps.source.fetch(target.fetchUri);
    } catch (err) {
      throw target.local ? redactFetchError(uri, err) : err;
    }
  };

  return {
    stats,
    health: () => (modelGone === undefined ? { ok: true } : { ok: false, reason: modelGone }),
    async embedText(request) {
      stats.requests++;
      if (!textBatcher) throw new VistaError(SystemErrorCode.REQUEST_INVALID, 'this server embeds images only (no text tower loaded)');
      const embedding = await textBatcher.submit(request.text);
      return { model_id: encoder!.id, embedding: Array.from(embedding) };
    },
    async enrich(request) {
      stats.requests++;
      const image = await deps.decoder.decode(await bytesOf(request));
      const sourceUri = request.uri ?? `inline:sha256:${image.contentSha256}`;
      const entry: ShardEntry = {
        index: 0,
        uri: sourceUri,
        imageId: request.image_id ?? imageIdFromUri(sourceUri),
        ...(request.hotel_id !== undefined ? { hotelId: request.hotel_id } : {}),
        ...(request.hotel_name !== undefined ? { hotelName: request.hotel_name } : {}),
        ...(request.city !== undefined ? { city: request.city } : {}),
      };
      const outcome = await batcher.submit({ entry, image });
      if (!outcome.ok) throw new VistaError(outcome.failure.errorCode as VistaErrorCode, outcome.failure.message);
      return toEnrichResult(outcome.row, request.include_embedding);
    },
  };
}

/**
 * Strict base64: Node's decoder silently skips characters outside the alphabet, so a decoded
 * length other than the one the text implies means the text was not base64. (A regex over a
 * multi-megabyte string cost more than the decode.)
 */
function decodeBase64(text: string): Buffer {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const bytes = Buffer.from(text, 'base64');
  if (text.length % 4 !== 0 || bytes.length !== (text.length / 4) * 3 - padding) {
    throw new VistaError(SystemErrorCode.REQUEST_INVALID, 'image_base64 is not valid base64');
  }
  return bytes;
}

