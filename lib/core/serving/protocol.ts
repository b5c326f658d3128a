/**
 * The real-time enrichment contract, shared by the inference server, the API and upload Lambdas
 * and their clients: one image in (inline bytes or a URI), its tags, SEO filename and embedding
 * out, or a typed error with the HTTP status that goes with it.
 */
import { z } from 'zod';
import { ImageErrorCode, SystemErrorCode, isVistaError, type VistaErrorCode } from '../errors';
import type { EnrichedImage, ImageFormat } from '../types';

/** The API's routes (lib/infra/serving/api.ts): enrich only, or enrich and store in the catalog. */
export const API_PATHS = { enrich: '/v1/enrich', store: '/v1/images' } as const;

const metadataFields = {
  image_id: z.string().min(1).max(256).optional(),
  hotel_id: z.string().min(1).max(256).optional(),
  hotel_name: z.string().min(1).max(512).optional(),
  city: z.string().min(1).max(256).optional(),
  /** The 512 floats are most of the response: callers that only want tags can leave them out. */
  include_embedding: z.boolean().default(true),
  /**
   * Also put the outcome in the catalog store, as uploads are. Set by the API Lambda for its
   * store route (POST /v1/images), which drops the outcome in the real-time inbox; refused on
   * /v1/enrich; ignored by the inference server, which stores nothing. Needs `image_id`: the row's key.
   */
  store: z.boolean().optional(),
};

const storeNeedsImageId = { message: 'store needs image_id (the key of the stored row)', path: ['image_id'] };

export const enrichRequestSchema = z
  .object({
    /** The image itself, base64-encoded (what API Gateway and SageMaker carry as JSON). */
    image_base64: z.string().min(1).optional(),
    /** Or where to fetch it: s3:// (or a prefix the server was told to allow). */
    uri: z.string().min(1).max(2048).optional(),
    ...metadataFields,
  })
  .strict()
  .refine((r) => (r.image_base64 === undefined) !== (r.uri === undefined), { message: 'give exactly one of image_base64 or uri' })
  .refine((r) => !r.store || r.image_id !== undefined, storeNeedsImageId);

/**
 * A text to embed with the model's text tower (`POST /invocations`, `{"text": "…"}`): what the
 * query API sends for the vector half of a hybrid text search. CLIP reads 77 tokens; the bound on
 * characters only keeps a hostile body small.
 */
export const textEmbedRequestSchema = z.object({ text: z.string().trim().min(1).max(1000) }).strict();
export type TextEmbedRequest = z.output<typeof textEmbedRequestSchema>;

/** The text's L2-normalized embedding, and the model that made it (a store of another model cannot use it). */
export const textEmbedResultSchema = z.object({ model_id: z.string().min(1), embedding: z.array(z.number()).min(1) });
export type TextEmbedResult = z.output<typeof textEmbedResultSchema>;

/** What comes with raw image bytes (query string, SageMaker custom attributes). */
export const imageMetadataSchema = z
  .object(metadataFields)
  .strict()
  .refine((r) => !r.store || r.image_id !== undefined, storeNeedsImageId);

/** A validated request; raw bytes from an image/* body travel as `image_bytes`, never re-encoded. */
export type EnrichRequest = z.output<typeof enrichRequestSchema> & { image_bytes?: Buffer };
export type EnrichRequestInput = z.input<typeof enrichRequestSchema>;

/** One image's enrichment as JSON; the schema checks results read back from storage (the real-time inbox). */
export const enrichResultSchema = z.object({
  image_id: z.string().min(1),
  source_uri: z.string(),
  hotel_id: z.string().optional(),
  hotel_name: z.string().optional(),
  city: z.string().optional(),
  seo_filename: z.string(),
  tags: z.array(z.string()),
  tag_scores: z.array(z.number()),
  embedding: z.array(z.number()).optional(),
  width: z.number().int().nonnegative(),
  height: z.number().int().nonnegative(),
  format: z.string(),
  content_sha256: z.string(),
  model_id: z.string(),
  taxonomy_id: z.string(),
  processed_at: z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'not a date'),
});
export type EnrichResult = z.output<typeof enrichResultSchema>;

export interface EnrichErrorBody {
  error: { code: VistaErrorCode | 'NOT_FOUND_ROUTE' | 'BUSY' | 'DEADLINE_EXCEEDED' | 'BODY_TIMEOUT'; message: string };
}

/** The HTTP status of a failure: the caller's fault (4xx), a dependency's (502/503), or ours (500). */
export function httpStatusFor(code: string): number {
  switch (code) {
    case SystemErrorCode.REQUEST_INVALID:
    case ImageErrorCode.INVALID_ENTRY:
      return 400;
    case ImageErrorCode.ACCESS_DENIED:
      return 403;
    case ImageErrorCode.NOT_FOUND:
      return 404;
    case ImageErrorCode.TOO_LARGE:
      return 413;
    case 'BODY_TIMEOUT':
      return 408;
    case ImageErrorCode.EMPTY:
    case ImageErrorCode.NOT_AN_IMAGE:
    case ImageErrorCode.UNSUPPORTED_FORMAT:
    case ImageErrorCode.TOO_MANY_PIXELS:
    case ImageErrorCode.CORRUPT_IMAGE:
    case ImageErrorCode.MODEL_FAILED:
      return 422;
    case ImageErrorCode.FETCH_FAILED:
    case ImageErrorCode.FETCH_TIMEOUT:
      return 502;
    case SystemErrorCode.MODEL_UNAVAILABLE:
    case 'BUSY':
    case 'DEADLINE_EXCEEDED':
      return 503;
    default:
      return 500;
  }
}

/**
 * What a caller sees of a failure: a VistaError's code and message with its status; anything
 * else is our bug, answered as a bare 500 (the details go to the log, not to the caller).
 */
export function errorAnswer(err: unknown): { status: number; body: EnrichErrorBody | { error: { code: 'INTERNAL'; message: string } } } {
  if (isVistaError(err)) return { status: httpStatusFor(err.code), body: { error: { code: err.code, message: err.message } } };
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } } };
}

export function toEnrichResult(row: EnrichedImage, includeEmbedding: boolean): EnrichResult {
  return {
    image_id: row.imageId,
    source_uri: row.sourceUri,
    ...(row.hotelId !== undefined ? { hotel_id: row.hotelId } : {}),
    ...(row.hotelName !== undefined ? { hotel_name: row.hotelName } : {}),
    ...(row.city !== undefined ? { city: row.city } : {}),
    seo_filename: row.seoFilename,
    tags: row.tags,
    tag_scores: row.tagScores.map((s) => Math.round(s * 1e4) / 1e4),
    ...(includeEmbedding ? { embedding: Array.from(row.embedding) } : {}),
    width: row.width,
    height: row.height,
    format: row.format,
    content_sha256: row.contentSha256,
    model_id: row.modelId,
    taxonomy_id: row.taxonomyId,
    processed_at: row.processedAt.toISOString(),
  };
}

/** The inverse of toEnrichResult, for a result that carries its embedding. */
export function fromEnrichResult(result: EnrichResult & { embedding: number[] }): EnrichedImage {
  return {
    imageId: result.image_id,
    sourceUri: result.source_uri,
    ...(result.hotel_id !== undefined ? { hotelId: result.hotel_id } : {}),
    ...(result.hotel_name !== undefined ? { hotelName: result.hotel_name } : {}),
    ...(result.city !== undefined ? { city: result.city } : {}),
    seoFilename: result.seo_filename,
    tags: result.tags,
    tagScores: result.tag_scores,
    embedding: Float32Array.from(result.embedding),
    width: result.width,
    height: result.height,
    format: result.format as ImageFormat,
    contentSha256: result.content_sha256,
    modelId: result.model_id,
    taxonomyId: result.taxonomy_id,
    processedAt: new Date(result.processed_at),
  };
}

/** The JSON a client sends for a request (raw bytes travel base64-encoded). */
export function toWireRequest(request: EnrichRequest): EnrichRequestInput {
  const { image_bytes, ...rest } = request;
  return image_bytes ? { ...rest, image_base64: image_bytes.toString('base64') } : rest;
}
