/** OpenAPI 3.1 for the query API, generated from the zod schemas (JSON Schema 2020-12, as 3.1 uses). */
import { z } from 'zod';
import {
  API_PREFIX,
  errorAnswerSchema,
  hotelAnswerSchema,
  hotelsAnswerSchema,
  imageAnswerSchema,
  recommendationsRequestSchema,
  resultsAnswerSchema,
  searchRequestSchema,
  similarQuerySchema,
  tagsAnswerSchema,
} from './schemas';

type Json = Record<string, unknown>;

const schemaOf = (schema: z.ZodType, io: 'input' | 'output' = 'output'): Json => {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  delete out.$schema;
  return out;
};

const ok = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema: schemaOf(schema) } } });
const errors = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      String(s),
      { description: { 400: 'invalid request (unknown tags name the closest ones)', 404: 'unknown id', 429: 'throttled' }[s], content: { 'application/json': { schema: schemaOf(errorAnswerSchema) } } },
    ]),
  );
const pathParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });
const body = (schema: z.ZodType) => ({ required: true, content: { 'application/json': { schema: schemaOf(schema, 'input') } } });
const oneOfResults = { description: 'results, or hotels with by_hotel', content: { 'application/json': { schema: { oneOf: [schemaOf(resultsAnswerSchema), schemaOf(hotelsAnswerSchema)] } } } };

let cached: Json | undefined;

export function openApiDocument(): Json {
  if (cached) return cached;
  const similarParams = Object.entries((schemaOf(similarQuerySchema, 'input').properties ?? {}) as Record<string, Json>).map(([name, schema]) => ({ name, in: 'query', required: false, schema }));
  cached = {
    openapi: '3.1.0',
    info: { title: 'Vista query API', version: '1.0.0', description: 'Similar images, hybrid text + tag search, recommendations, hotels and tags over the Vista catalog.' },
    paths: {
      [`${API_PREFIX}/images/{image_id}`]: {
        get: {
          summary: 'One stored image; the embedding only with include=embedding',
          parameters: [pathParam('image_id'), { name: 'include', in: 'query', required: false, schema: { type: 'string', enum: ['embedding'] } }],
          responses: { 200: ok(imageAnswerSchema, 'the image'), ...errors(400, 404, 429) },
        },
      },
      [`${API_PREFIX}/images/{image_id}/similar`]: {
        get: { summary: 'Images that look like this one (never itself)', parameters: [pathParam('image_id'), ...similarParams], responses: { 200: oneOfResults, ...errors(400, 404, 429) } },
      },
      [`${API_PREFIX}/images/{image_id}/thumbnail`]: {
        get: { summary: 'The image itself, small (or a redirect to a pre-signed URL)', parameters: [pathParam('image_id')], responses: { 200: { description: 'image bytes' }, 302: { description: 'pre-signed URL' }, ...errors(404, 429) } },
      },
      [`${API_PREFIX}/search`]: {
        post: { summary: 'Hybrid text search (vector + full text, reciprocal rank fusion), or browse by tags, hotel, city', requestBody: body(searchRequestSchema), responses: { 200: oneOfResults, ...errors(400, 429) } },
      },
      [`${API_PREFIX}/recommendations`]: {
        post: { summary: 'More like the liked images (never the liked ones), away from the disliked', requestBody: body(recommendationsRequestSchema), responses: { 200: oneOfResults, ...errors(400, 404, 429) } },
      },
      [`${API_PREFIX}/hotels/{hotel_id}`]: {
        get: { summary: 'Hotel name, city, image count, tag summary and cover images', parameters: [pathParam('hotel_id')], responses: { 200: ok(hotelAnswerSchema, 'the hotel'), ...errors(404, 429) } },
      },
      [`${API_PREFIX}/tags`]: { get: { summary: 'The taxonomy with counts from the store', responses: { 200: ok(tagsAnswerSchema, 'tags'), ...errors(429) } } },
      [`${API_PREFIX}/openapi.json`]: { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    },
  };
  return cached;
}
