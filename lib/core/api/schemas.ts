/**
 * The query API's contract: zod schemas for every request and answer. Validation and the
 * OpenAPI 3.1 document (openapi.ts) both come from here, so they cannot drift apart.
 */
import { z } from 'zod';

export const API_PREFIX = '/v1';
export const MAX_K = 100;
export const MAX_IDS = 100;

const id = z.string().min(1).max(256);
const tag = z.string().min(1).max(128);
const k = z.number().int().min(1).max(MAX_K).default(20);

export const searchRequestSchema = z
  .object({
    /** Embedded by the text tower and fused with full-text search over tags, hotel name and city. */
    text: z.string().trim().min(1).max(512).optional(),
    /** Every one of these tags must be present. */
    tags: z.array(tag).max(20).optional(),
    /** At least one of these tags must be present. */
    any_tags: z.array(tag).max(20).optional(),
    hotel_id: id.optional(),
    city: z.string().min(1).max(256).optional(),
    k,
    /** From a previous answer's next_cursor. */
    cursor: z.string().min(1).max(512).optional(),
    /** Rank hotels by their best image instead of images. */
    by_hotel: z.boolean().default(false),
  })
  .strict()
  .refine((r) => r.text || r.tags?.length || r.any_tags?.length || r.hotel_id || r.city, {
    message: 'give text, or tags, any_tags, hotel_id or city to browse by',
  })
  .meta({ id: 'SearchRequest' });

export const recommendationsRequestSchema = z
  .object({
    liked: z.array(id).min(1).max(MAX_IDS),
    disliked: z.array(id).max(MAX_IDS).optional(),
    k,
    by_hotel: z.boolean().default(false),
  })
  .strict()
  .meta({ id: 'RecommendationsRequest' });

const booleanString = z.enum(['true', 'false']).transform((v) => v === 'true');

export const similarQuerySchema = z
  .object({
    k: z.coerce.number().int().min(1).max(MAX_K).default(20),
    /** Comma-separated: every tag must be present. */
    tag: z.string().min(1).max(1024).optional(),
    hotel_id: id.optional(),
    exclude_same_hotel: booleanString.default(false),
    by_hotel: booleanString.default(false),
  })
  .strict();

export const imageQuerySchema = z.object({ include: z.enum(['embedding']).optional() }).strict();

/** What every answer says of a stored image, after its id (one definition for both shapes). */
const storedImageFields = {
  seo_filename: z.string(),
  tags: z.array(z.string()),
  tag_scores: z.array(z.number()),
  hotel_id: z.string().nullable(),
  hotel_name: z.string().nullable(),
  city: z.string().nullable(),
  source_uri: z.string(),
};

export const resultSchema = z
  .object({
    image_id: z.string(),
    /** Cosine similarity for similar/recommendations; reciprocal-rank-fusion score for text search; 1 when browsing. */
    score: z.number(),
    ...storedImageFields,
    /** Where to load a thumbnail: the server's thumbnail route, or a pre-signed S3 URL. */
    thumbnail_url: z.string(),
  })
  .meta({ id: 'Result' });

export const hotelGroupSchema = z
  .object({
    hotel_id: z.string(),
    hotel_name: z.string().nullable(),
    city: z.string().nullable(),
    score: z.number(),
    images: z.array(resultSchema),
  })
  .meta({ id: 'HotelGroup' });

export const resultsAnswerSchema = z
  .object({ results: z.array(resultSchema), next_cursor: z.string().optional() })
  .meta({ id: 'Results' });

export const hotelsAnswerSchema = z.object({ hotels: z.array(hotelGroupSchema) }).meta({ id: 'Hotels' });

export const imageAnswerSchema = z
  .object({
    image_id: z.string(),
    ...storedImageFields,
    width: z.number().int(),
    height: z.number().int(),
    format: z.string(),
    model_id: z.string(),
    taxonomy_id: z.string(),
    content_sha256: z.string(),
    processed_at: z.string(),
    thumbnail_url: z.string(),
    embedding: z.array(z.number()).optional(),
  })
  .meta({ id: 'Image' });

export const hotelAnswerSchema = z
  .object({
    hotel_id: z.string(),
    hotel_name: z.string().nullable(),
    city: z.string().nullable(),
    image_count: z.number().int(),
    /** Tags of the hotel's images, most frequent first. */
    tags: z.array(z.object({ tag: z.string(), count: z.number().int() })),
    cover_images: z.array(resultSchema),
  })
  .meta({ id: 'Hotel' });

export const tagsAnswerSchema = z
  .object({
    taxonomy_id: z.string(),
    categories: z.array(
      z.object({
        name: z.string(),
        exclusive: z.boolean(),
        labels: z.array(z.object({ name: z.string(), display: z.string(), threshold: z.number(), count: z.number().int() })),
      }),
    ),
    /** Tags found in the store that the taxonomy does not name (another taxonomy version). */
    other: z.array(z.object({ name: z.string(), count: z.number().int() })),
    images: z.number().int(),
  })
  .meta({ id: 'Tags' });

export const errorAnswerSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
  .meta({ id: 'Error' });

export type SearchRequest = z.output<typeof searchRequestSchema>;
export type RecommendationsRequest = z.output<typeof recommendationsRequestSchema>;
export type ResultJson = z.output<typeof resultSchema>;
export type HotelGroupJson = z.output<typeof hotelGroupSchema>;
export type ImageJson = z.output<typeof imageAnswerSchema>;
export type HotelJson = z.output<typeof hotelAnswerSchema>;
export type TagsJson = z.output<typeof tagsAnswerSchema>;
