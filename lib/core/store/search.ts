/**
 * Searching the images table: similar images, text → images (through the model's text tower), and
 * "more like what this user liked". Cosine distance throughout; tag filters require every tag.
 * Functions take an open store so that a long-lived API process reuses table handles and caches.
 */
import type * as lancedb from '@lancedb/lancedb';
import { MultiMatchQuery } from '@lancedb/lancedb';
import type { Table as ArrowTable, Vector } from 'apache-arrow';
import { SystemErrorCode, VistaError } from '../errors';
import { ResultColumn as C } from '../pipeline/schema';
import type { ClipModel } from '../types';
import { TableName, type VistaStore } from './connect';
import { fullTextIndexedColumns } from './full-text';
import { sqlString } from './tables';
import { type HotelGroup, type SearchResult, embeddingFromArrow, groupByHotel, userVector } from './vectors';

export { groupByHotel, tagsFilterFirst, userVector, type HotelGroup, type SearchResult } from './vectors';

export interface SearchOptions {
  /** Results (or hotels, with byHotel). @default 10 */
  k?: number;
  /** Every one of these tags must be on a result. */
  tags?: string[];
  /** At least one of these tags must be on a result. */
  anyTags?: string[];
  /** Only this hotel's images. */
  hotelId?: string;
  /** Only images of hotels in this city (exact, as stored). */
  city?: string;
  /** Leave out this hotel's images (similar images from other hotels). */
  excludeHotelId?: string;
  excludeIds?: string[];
  /** Rank hotels by their best image instead of images. */
  byHotel?: boolean;
  /** Images kept per hotel with byHotel. @default 3 */
  perHotel?: number;
  /** IVF partitions probed (ignored without a vector index). @default DEFAULT_NPROBES */
  nprobes?: number;
  /** Re-rank k × this candidates on full vectors (ignored without a vector index). @default DEFAULT_REFINE_FACTOR */
  refineFactor?: number;
}

export interface SearchResponse {
  results: SearchResult[];
  /** Only with byHotel. */
  hotels?: HotelGroup[];
}

/** Chosen with `vista bench store` (recall@10 ≥ 0.95 at 1M rows, see docs/benchmarks.md). */
export const DEFAULT_NPROBES = 20;
export const DEFAULT_REFINE_FACTOR = 5;
const MAX_CANDIDATES = 1000;

const RESULT_COLUMNS = [C.imageId, C.hotelId, C.hotelName, C.city, C.seoFilename, C.tags, C.tagScores, C.sourceUri];
const columnsByTable = new WeakMap<lancedb.Table, Promise<Set<string>>>();

/** The table's column names, read once per handle (stores written before hotel_name/city lack them). */
export function tableColumns(table: lancedb.Table): Promise<Set<string>> {
  let columns = columnsByTable.get(table);
  if (!columns) {
    columns = table.schema().then((schema) => new Set(schema.fields.map((f) => f.name)));
    columnsByTable.set(table, columns);
  }
  return columns;
}

/** Result columns this table has; a missing one reads as null. */
export async function resultColumns(table: lancedb.Table): Promise<string[]> {
  const present = await tableColumns(table);
  return RESULT_COLUMNS.filter((c) => present.has(c));
}

export async function imagesTable(store: VistaStore): Promise<lancedb.Table> {
  const table = await store.table(TableName.images);
  if (!table) throw new VistaError(SystemErrorCode.STORE_FAILED, `no ${TableName.images} table under ${store.uri}`);
  return table;
}

/** SQL that keeps rows carrying every tag (answered by the LABEL_LIST index on tags). */
export function allTagsFilter(tags: string[]): string | undefined {
  const unique = [...new Set(tags)];
  if (unique.length === 0) return undefined;
  return `array_has_all(${C.tags}, [${unique.map(sqlString).join(', ')}])`;
}

/** SQL that keeps rows carrying at least one of the tags (also answered by the LABEL_LIST index). */
export function anyTagsFilter(tags: string[]): string | undefined {
  const unique = [...new Set(tags)];
  if (unique.length === 0) return undefined;
  return `array_has_any(${C.tags}, [${unique.map(sqlString).join(', ')}])`;
}

/**
 * The SQL filter of a search. Every user value goes through sqlString (quotes doubled inside one
 * literal): a value can only ever be compared, never become SQL. Columns are ours, never the caller's.
 * Filtering on a column the table lacks (a store written before it) matches nothing.
 */
export function catalogFilter(options: SearchOptions, columns?: ReadonlySet<string>, extra: string[] = []): string | undefined {
  const has = (column: string) => !columns || columns.has(column);
  const filters = [
    allTagsFilter(options.tags ?? []),
    anyTagsFilter(options.anyTags ?? []),
    options.hotelId !== undefined ? `${C.hotelId} = ${sqlString(options.hotelId)}` : undefined,
    options.city !== undefined ? (has(C.city) ? `${C.city} = ${sqlString(options.city)}` : 'false') : undefined,
    options.excludeHotelId !== undefined ? `(${C.hotelId} IS NULL OR ${C.hotelId} <> ${sqlString(options.excludeHotelId)})` : undefined,
    options.byHotel ? `${C.hotelId} IS NOT NULL` : undefined,
    ...extra,
  ].filter((f): f is string => f !== undefined);
  return filters.length ? filters.join(' AND ') : undefined;
}

function positiveInt(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new VistaError(SystemErrorCode.REQUEST_INVALID, `${name} must be an integer from 1 to ${max}, got ${value}`);
  }
  return value;
}

export async function searchByVector(store: VistaStore, vector: Float32Array, options: SearchOptions = {}): Promise<SearchResponse> {
  const k = positiveInt('k', options.k ?? 10, MAX_CANDIDATES);
  const perHotel = positiveInt('perHotel', options.perHotel ?? 3, MAX_CANDIDATES);
  const exclude = new Set(options.excludeIds ?? []);
  const table = await imagesTable(store);
  // Excluded ids are dropped here rather than in SQL: a NOT IN over millions of rows costs more
  // than a few extra candidates.
  let limit = Math.min(MAX_CANDIDATES, (options.byHotel ? k * perHotel * 4 : k) + exclude.size);
  for (;;) {
    const found = (await candidates(table, vector, limit, options)).filter((r) => !exclude.has(r.imageId));
    if (!options.byHotel) return { results: found.slice(0, k) };
    const hotels = groupByHotel(found, perHotel).slice(0, k);
    // A few hotels can fill the nearest candidates: widen the search until k hotels or no more rows.
    if (hotels.length < k && found.length + exclude.size >= limit && limit < MAX_CANDIDATES) {
      limit = Math.min(MAX_CANDIDATES, limit * 4);
      continue;
    }
    return { results: hotels.flatMap((h) => h.images), hotels };
  }
}

async function candidates(table: lancedb.Table, vector: Float32Array, limit: number, options: SearchOptions): Promise<SearchResult[]> {
  let query = table
    .vectorSearch(vector)
    .column(C.embedding)
    .distanceType('cosine')
    .nprobes(options.nprobes ?? DEFAULT_NPROBES)
    .refineFactor(options.refineFactor ?? DEFAULT_REFINE_FACTOR)
    .select([...(await resultColumns(table)), '_distance'])
    .limit(limit);
  const filter = catalogFilter(options, await tableColumns(table));
  if (filter) query = query.where(filter);
  return toResults(await query.toArrow(), (i, distances) => 1 - Number(distances!.get(i)), '_distance');
}

type Column = ReturnType<ArrowTable['getChild']>;

/** Arrow rows → results; `score(i)` reads the row's score from the `scoreColumn` if there is one. */
export function toResults(table: ArrowTable, score: (i: number, scores: Column) => number, scoreColumn?: string): SearchResult[] {
  const col = (name: string) => table.getChild(name);
  const [ids, hotels, hotelNames, cities, names, tags, tagScores, uris] = RESULT_COLUMNS.map(col);
  const scores = scoreColumn ? col(scoreColumn) : null;
  const out: SearchResult[] = [];
  for (let i = 0; i < table.numRows; i++) {
    out.push({
      imageId: ids!.get(i) as string,
      hotelId: (hotels?.get(i) as string | null) ?? null,
      hotelName: (hotelNames?.get(i) as string | null) ?? null,
      city: (cities?.get(i) as string | null) ?? null,
      seoFilename: names!.get(i) as string,
      tags: [...((tags?.get(i) as Vector | null) ?? [])] as string[],
      tagScores: [...((tagScores?.get(i) as Vector | null) ?? [])].map((v) => Math.round(Number(v) * 1e4) / 1e4),
      score: score(i, scores),
      sourceUri: uris!.get(i) as string,
    });
  }
  return out;
}

/**
 * Browsing without a query vector: the rows matching the filter (tags, hotel, city), in storage
 * order, `offset` rows in. Answered by the scalar indexes, no vector read.
 */
export async function browse(store: VistaStore, options: SearchOptions & { offset?: number } = {}): Promise<SearchResult[]> {
  const k = positiveInt('k', options.k ?? 10, MAX_CANDIDATES);
  const table = await imagesTable(store);
  let query = table.query().select(await resultColumns(table)).limit(k);
  if (options.offset) query = query.offset(options.offset);
  const filter = catalogFilter(options, await tableColumns(table));
  if (filter) query = query.where(filter);
  return toResults(await query.toArrow(), () => 1);
}

/**
 * Full-text ranking over tags, hotel name and city (LanceDB FTS, BM25), best first. Only columns
 * with an FTS index take part; with none (a store not indexed since) the ranking is empty.
 */
export async function fullTextRanking(store: VistaStore, text: string, limit: number, options: SearchOptions = {}): Promise<SearchResult[]> {
  const table = await imagesTable(store);
  const indexed = await fullTextIndexedColumns(table);
  if (indexed.length === 0 || text.trim() === '') return [];
  let query = table
    .query()
    .fullTextSearch(new MultiMatchQuery(text, indexed))
    .select([...(await resultColumns(table)), '_score'])
    .limit(limit);
  const filter = catalogFilter(options, await tableColumns(table));
  if (filter) query = query.where(filter);
  return toResults(await query.toArrow(), (i, scores) => Number(scores!.get(i)), '_score');
}

/** Stored embeddings of these images, by id; unknown ids are simply absent. */
export async function fetchEmbeddings(store: VistaStore, imageIds: string[]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  if (imageIds.length === 0) return out;
  const table = await (await imagesTable(store))
    .query()
    .where(`${C.imageId} IN (${[...new Set(imageIds)].map(sqlString).join(', ')})`)
    .select([C.imageId, C.embedding])
    .toArrow();
  const ids = table.getChild(C.imageId)!;
  const embeddings = table.getChild(C.embedding)!;
  for (let i = 0; i < table.numRows; i++) {
    const id = ids.get(i) as string;
    if (!out.has(id)) out.set(id, embeddingFromArrow(embeddings.get(i) as Vector));
  }
  return out;
}

function unknownImages(ids: string[]): VistaError {
  return new VistaError(SystemErrorCode.REQUEST_INVALID, `no such image: ${ids.join(', ')}`, { details: { imageIds: ids } });
}

/** Images that look like this one (never itself). */
export async function similarTo(store: VistaStore, imageId: string, options: SearchOptions = {}): Promise<SearchResponse> {
  const embedding = (await fetchEmbeddings(store, [imageId])).get(imageId);
  if (!embedding) throw unknownImages([imageId]);
  return searchByVector(store, embedding, { ...options, excludeIds: [imageId, ...(options.excludeIds ?? [])] });
}

/** The normalized mean of the liked images' embeddings; ids not in the store are ignored. */
export async function likedVector(store: VistaStore, imageIds: string[]): Promise<Float32Array> {
  const found = await fetchEmbeddings(store, imageIds);
  if (found.size === 0) throw unknownImages(imageIds);
  return userVector([...found.values()]);
}

/** More like what the user liked, never the liked images themselves. */
export async function searchLiked(store: VistaStore, likedIds: string[], options: SearchOptions = {}): Promise<SearchResponse> {
  const vector = await likedVector(store, likedIds);
  return searchByVector(store, vector, { ...options, excludeIds: [...likedIds, ...(options.excludeIds ?? [])] });
}

/** Text → images through the model's text tower (same embedding space as the images). */
export async function searchByText(store: VistaStore, model: ClipModel, text: string, options: SearchOptions = {}): Promise<SearchResponse> {
  if (text.trim() === '') throw new VistaError(SystemErrorCode.REQUEST_INVALID, 'empty search text');
  const [vector] = await model.embedTexts([text]);
  return searchByVector(store, vector, options);
}
