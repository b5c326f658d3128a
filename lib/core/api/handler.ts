/**
 * The query API as one framework-free function: request in, answer out. The local server
 * (`vista api`) and the Lambda adapter both call it, so both answer exactly alike.
 */
import { z } from 'zod';
import { ImageErrorCode, SystemErrorCode, VistaError, isVistaError } from '../errors';
import { errorAnswer } from '../serving/protocol';
import type { VistaStore } from '../store/connect';
import { type SearchOptions, browse, fetchEmbeddings, fullTextRanking, searchByVector } from '../store/search';
import { type HotelGroup, type SearchResult, groupByHotel, normalize, userVector } from '../store/vectors';
import { checkKnownTags } from '../tags/closest';
import { type ResolvedCategory } from '../tags/taxonomy';
import type { ClipModel } from '../types';
import { countTags, getImage, hotelSummary, sourceUriOf } from './catalog';
import { decodeCursor, encodeCursor, queryKey } from './cursor';
import { reciprocalRankFusion } from './fusion';
import { openApiDocument } from './openapi';
import {
  API_PREFIX,
  type HotelGroupJson,
  type ResultJson,
  imageQuerySchema,
  recommendationsRequestSchema,
  searchRequestSchema,
  similarQuerySchema,
} from './schemas';

export interface ApiRequest {
  method: string;
  /** Path without query string, e.g. /v1/images/abc/similar. */
  path: string;
  query?: Record<string, string | undefined>;
  /** Parsed JSON body (POST). */
  body?: unknown;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  /** JSON-serializable, or raw bytes (thumbnails). */
  body: unknown;
}

/** Thumbnail delivery: a URL for each result, and the bytes or a redirect for the thumbnail route. */
export interface Thumbnails {
  urlFor(imageId: string, sourceUri: string): Promise<string> | string;
  /** Answers GET /v1/images/{id}/thumbnail for an image the store holds. */
  serve(sourceUri: string): Promise<ApiResponse>;
}

export interface TaxonomyView {
  id: string;
  categories: ResolvedCategory[];
}

export interface ApiDeps {
  store: VistaStore;
  taxonomy: TaxonomyView;
  /**
   * The text tower (in process, or the inference endpoint's: remote-text-model.ts), loaded on
   * first use; absent: text search is full-text only. When it fails with MODEL_UNAVAILABLE or
   * STORE_MODEL_MISMATCH, the answer is the full-text ranking alone and the reason is logged.
   */
  textModel?: () => Promise<Pick<ClipModel, 'embedTexts'>>;
  thumbnails: Thumbnails;
  /** How long tag counts are reused, in ms. @default 300_000 */
  tagCountsTtlMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export type ApiHandler = (request: ApiRequest) => Promise<ApiResponse>;

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };
/** Candidates each ranking contributes to fusion, per result asked for. */
const FUSION_DEPTH = 3;
const MAX_FUSION_CANDIDATES = 1000;
/** A disliked image pulls the user vector away with this weight (Rocchio). */
const DISLIKE_WEIGHT = 0.5;

export function notFound(message: string): VistaError {
  return new VistaError(ImageErrorCode.NOT_FOUND, message);
}

function invalid(error: z.ZodError): VistaError {
  const message = error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ');
  return new VistaError(SystemErrorCode.REQUEST_INVALID, message);
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw invalid(parsed.error);
  return parsed.data;
}

export function json(status: number, body: unknown): ApiResponse {
  return { status, headers: { ...JSON_HEADERS }, body };
}

export function errorResponse(err: unknown): ApiResponse {
  const { status, body } = errorAnswer(err);
  return json(status, body);
}

export function makeApiHandler(deps: ApiDeps): ApiHandler {
  const { store } = deps;
  const ttl = deps.tagCountsTtlMs ?? 300_000;
  let tagCounts: { at: number; value: Promise<{ counts: Map<string, number>; images: number }> } | undefined;
  const taxonomyLabels = new Set(deps.taxonomy.categories.flatMap((c) => c.labels.map((l) => l.name)));

  const counts = () => {
    if (!tagCounts || Date.now() - tagCounts.at > ttl) {
      const value = countTags(store);
      tagCounts = { at: Date.now(), value };
      value.catch(() => (tagCounts = undefined));
    }
    return tagCounts.value;
  };

  /** Tags the taxonomy names, plus any the store holds (rows tagged by another taxonomy version). */
  const checkTags = async (tags: string[]) => {
    if (tags.every((t) => taxonomyLabels.has(t))) return;
    const known = new Set(taxonomyLabels);
    for (const t of (await counts()).counts.keys()) known.add(t);
    checkKnownTags(tags, known);
  };

  const toJson = async (r: SearchResult): Promise<ResultJson> => ({
    image_id: r.imageId,
    score: Math.round(r.score * 1e6) / 1e6,
    seo_filename: r.seoFilename,
    tags: r.tags,
    tag_scores: r.tagScores,
    hotel_id: r.hotelId,
    hotel_name: r.hotelName,
    city: r.city,
    source_uri: r.sourceUri,
    thumbnail_url: await deps.thumbnails.urlFor(r.imageId, r.sourceUri),
  });
  const hotelsJson = async (hotels: HotelGroup[]): Promise<{ hotels: HotelGroupJson[] }> => ({
    hotels: await Promise.all(
      hotels.map(async (h) => ({ hotel_id: h.hotelId, hotel_name: h.hotelName, city: h.city, score: Math.round(h.score * 1e6) / 1e6, images: await Promise.all(h.images.map(toJson)) })),
    ),
  });
  const resultsJson = async (results: SearchResult[], next?: string) => ({
    results: await Promise.all(results.map(toJson)),
    ...(next ? { next_cursor: next } : {}),
  });

  async function image(imageId: string, query: Record<string, string | undefined>): Promise<ApiResponse> {
    const { include } = parse(imageQuerySchema, query);
    const row = await getImage(store, imageId, include === 'embedding');
    if (!row) throw notFound(`no such image: ${imageId}`);
    return json(200, {
      image_id: row.imageId,
      seo_filename: row.seoFilename,
      tags: row.tags,
      tag_scores: row.tagScores,
      hotel_id: row.hotelId,
      hotel_name: row.hotelName,
      city: row.city,
      source_uri: row.sourceUri,
      width: row.width,
      height: row.height,
      format: row.format,
      model_id: row.modelId,
      taxonomy_id: row.taxonomyId,
      content_sha256: row.contentSha256,
      processed_at: row.processedAt,
      thumbnail_url: await deps.thumbnails.urlFor(row.imageId, row.sourceUri),
      ...(row.embedding ? { embedding: Array.from(row.embedding, (v) => Math.round(v * 1e6) / 1e6) } : {}),
    });
  }

  async function similar(imageId: string, query: Record<string, string | undefined>): Promise<ApiResponse> {
    const q = parse(similarQuerySchema, query);
    const tags = q.tag ? q.tag.split(',').map((t) => t.trim()).filter(Boolean) : [];
    await checkTags(tags);
    const embedding = (await fetchEmbeddings(store, [imageId])).get(imageId);
    if (!embedding) throw notFound(`no such image: ${imageId}`);
    const options: SearchOptions = { k: q.k, tags, hotelId: q.hotel_id, excludeIds: [imageId], byHotel: q.by_hotel };
    if (q.exclude_same_hotel) {
      const self = await getImage(store, imageId);
      if (self?.hotelId) options.excludeHotelId = self.hotelId;
    }
    const found = await searchByVector(store, embedding, options);
    return json(200, found.hotels ? await hotelsJson(found.hotels) : await resultsJson(found.results));
  }

  async function search(body: unknown): Promise<ApiResponse> {
    const req = parse(searchRequestSchema, body);
    await checkTags([...(req.tags ?? []), ...(req.any_tags ?? [])]);
    const { cursor, k, by_hotel: byHotel, ...query } = req;
    const key = queryKey({ ...query, byHotel });
    const offset = decodeCursor(cursor, key);
    const options: SearchOptions = { tags: req.tags, anyTags: req.any_tags, hotelId: req.hotel_id, city: req.city };
    if (!req.text) {
      if (byHotel) return json(200, await hotelsJson(groupByHotel(await browse(store, { ...options, k: Math.min(1000, k * 20) })).slice(0, k)));
      // One row more than asked tells whether there is a next page.
      const rows = await browse(store, { ...options, k: k + 1, offset });
      const page = rows.slice(0, k);
      return json(200, await resultsJson(page, rows.length > k ? encodeCursor(offset + k, key) : undefined));
    }
    const depth = Math.min(MAX_FUSION_CANDIDATES, (offset + k) * (byHotel ? 3 * FUSION_DEPTH : FUSION_DEPTH));
    const [vectorRanking, textRanking] = await Promise.all([
      deps.textModel ? vectorRankingFor(req.text, depth, options) : Promise.resolve([]),
      fullTextRanking(store, req.text, depth, options),
    ]);
    const fused = reciprocalRankFusion([vectorRanking, textRanking], (r) => r.imageId).map(({ item, score }) => ({ ...item, score }));
    if (byHotel) return json(200, await hotelsJson(groupByHotel(fused).slice(0, k)));
    const page = fused.slice(offset, offset + k);
    return json(200, await resultsJson(page, fused.length > offset + k ? encodeCursor(offset + k, key) : undefined));
  }

  async function vectorRankingFor(text: string, depth: number, options: SearchOptions): Promise<SearchResult[]> {
    let vector: Float32Array;
    try {
      const model = await deps.textModel!();
      [vector] = await model.embedTexts([text]);
    } catch (err) {
      if (!isVistaError(err) || (err.code !== SystemErrorCode.MODEL_UNAVAILABLE && err.code !== SystemErrorCode.STORE_MODEL_MISMATCH)) throw err;
      deps.log?.('text search without its vector half', { code: err.code, reason: err.message });
      return [];
    }
    return (await searchByVector(store, vector, { ...options, k: depth })).results;
  }

  async function recommendations(body: unknown): Promise<ApiResponse> {
    const req = parse(recommendationsRequestSchema, body);
    const disliked = req.disliked ?? [];
    const found = await fetchEmbeddings(store, [...req.liked, ...disliked]);
    const liked = req.liked.flatMap((id) => (found.has(id) ? [found.get(id)!] : []));
    if (liked.length === 0) throw notFound(`none of the liked images is in the store: ${req.liked.join(', ')}`);
    let vector = userVector(liked);
    const against = disliked.flatMap((id) => (found.has(id) ? [found.get(id)!] : []));
    if (against.length) {
      const away = userVector(against);
      vector = normalize(vector.map((v, i) => v - DISLIKE_WEIGHT * away[i]));
    }
    const result = await searchByVector(store, vector, { k: req.k, byHotel: req.by_hotel, excludeIds: [...req.liked, ...disliked] });
    return json(200, result.hotels ? await hotelsJson(result.hotels) : await resultsJson(result.results));
  }

  async function hotel(hotelId: string): Promise<ApiResponse> {
    const summary = await hotelSummary(store, hotelId);
    if (!summary) throw notFound(`no such hotel: ${hotelId}`);
    return json(200, {
      hotel_id: summary.hotelId,
      hotel_name: summary.hotelName,
      city: summary.city,
      image_count: summary.imageCount,
      tags: summary.tags,
      cover_images: await Promise.all(summary.covers.map(toJson)),
    });
  }

  async function tags(): Promise<ApiResponse> {
    const { counts: byTag, images } = await counts();
    const named = new Set<string>();
    const categories = deps.taxonomy.categories.map((c) => ({
      name: c.name,
      exclusive: c.exclusive,
      labels: c.labels.map((l) => {
        named.add(l.name);
        return { name: l.name, display: l.display, threshold: l.threshold, count: byTag.get(l.name) ?? 0 };
      }),
    }));
    const other = [...byTag.entries()].filter(([name]) => !named.has(name)).map(([name, count]) => ({ name, count })).sort((a, b) => b.count - a.count);
    return json(200, { taxonomy_id: deps.taxonomy.id, categories, other, images });
  }

  async function thumbnail(imageId: string): Promise<ApiResponse> {
    const uri = await sourceUriOf(store, imageId);
    if (!uri) throw notFound(`no such image: ${imageId}`);
    return deps.thumbnails.serve(uri);
  }

  const routes: { method: string; pattern: RegExp; run: (m: string[], r: ApiRequest) => Promise<ApiResponse> }[] = [
    { method: 'GET', pattern: /^\/images\/([^/]+)$/, run: ([id], r) => image(id, r.query ?? {}) },
    { method: 'GET', pattern: /^\/images\/([^/]+)\/similar$/, run: ([id], r) => similar(id, r.query ?? {}) },
    { method: 'GET', pattern: /^\/images\/([^/]+)\/thumbnail$/, run: ([id]) => thumbnail(id) },
    { method: 'POST', pattern: /^\/search$/, run: (_, r) => search(r.body) },
    { method: 'POST', pattern: /^\/recommendations$/, run: (_, r) => recommendations(r.body) },
    { method: 'GET', pattern: /^\/hotels\/([^/]+)$/, run: ([id]) => hotel(id) },
    { method: 'GET', pattern: /^\/tags$/, run: () => tags() },
    { method: 'GET', pattern: /^\/openapi\.json$/, run: async () => json(200, openApiDocument()) },
  ];

  return async (request) => {
    const started = Date.now();
    const path = request.path.startsWith(API_PREFIX + '/') ? request.path.slice(API_PREFIX.length) : undefined;
    try {
      for (const route of path === undefined ? [] : routes) {
        const match = route.pattern.exec(path!);
        if (!match || route.method !== request.method.toUpperCase()) continue;
        let params: string[];
        try {
          params = match.slice(1).map(decodeURIComponent);
        } catch {
          throw new VistaError(SystemErrorCode.REQUEST_INVALID, 'malformed percent-encoding in the path');
        }
        return await route.run(params, request);
      }
      return json(404, { error: { code: 'NOT_FOUND_ROUTE', message: `no route ${request.method} ${request.path}` } });
    } catch (err) {
      if (!isVistaError(err)) deps.log?.('api request failed', { path: request.path, error: String((err as Error)?.stack ?? err) });
      return errorResponse(err);
    } finally {
      deps.log?.('api request', { method: request.method, path: request.path, ms: Date.now() - started });
    }
  };
}
