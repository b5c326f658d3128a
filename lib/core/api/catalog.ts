/**
 * Store reads of the query API beyond ranking: one image's full row, a hotel's summary and the
 * store's tag counts. Every user value reaches SQL only through sqlString.
 */
import type { Vector } from 'apache-arrow';
import { ResultColumn as C } from '../pipeline/schema';
import type { VistaStore } from '../store/connect';
import { browse, imagesTable, resultColumns, tableColumns, toResults } from '../store/search';
import { sqlString } from '../store/tables';
import type { SearchResult } from '../store/vectors';
import { embeddingFromArrow } from '../store/vectors';

export interface StoredImage extends SearchResult {
  width: number;
  height: number;
  format: string;
  modelId: string;
  taxonomyId: string;
  contentSha256: string;
  processedAt: string;
  embedding?: Float32Array;
}

const DETAIL_COLUMNS = [C.width, C.height, C.format, C.modelId, C.taxonomyId, C.contentSha256, C.processedAt];

/** The image's stored row, or undefined for an id the store does not hold. */
export async function getImage(store: VistaStore, imageId: string, withEmbedding = false): Promise<StoredImage | undefined> {
  const table = await imagesTable(store);
  const columns = [...(await resultColumns(table)), ...DETAIL_COLUMNS, ...(withEmbedding ? [C.embedding] : [])];
  const arrow = await table.query().where(`${C.imageId} = ${sqlString(imageId)}`).select(columns).limit(1).toArrow();
  if (arrow.numRows === 0) return undefined;
  const [base] = toResults(arrow, () => 1);
  const get = (name: string) => arrow.getChild(name)!.get(0);
  const processed = get(C.processedAt) as number | Date;
  return {
    ...base,
    width: Number(get(C.width)),
    height: Number(get(C.height)),
    format: get(C.format) as string,
    modelId: get(C.modelId) as string,
    taxonomyId: get(C.taxonomyId) as string,
    contentSha256: get(C.contentSha256) as string,
    processedAt: new Date(processed as number).toISOString(),
    ...(withEmbedding ? { embedding: embeddingFromArrow(get(C.embedding) as Vector) } : {}),
  };
}

/** The image's source URI if the store holds it: thumbnails come only from images the store knows. */
export async function sourceUriOf(store: VistaStore, imageId: string): Promise<string | undefined> {
  const table = await imagesTable(store);
  const rows = await table.query().where(`${C.imageId} = ${sqlString(imageId)}`).select([C.sourceUri]).limit(1).toArrow();
  return rows.numRows ? (rows.getChild(C.sourceUri)!.get(0) as string) : undefined;
}

export interface HotelSummary {
  hotelId: string;
  hotelName: string | null;
  city: string | null;
  imageCount: number;
  tags: { tag: string; count: number }[];
  covers: SearchResult[];
}

/** Hotels hold tens to thousands of images: their tags are counted from one filtered scan. */
const MAX_HOTEL_SCAN = 20_000;

export async function hotelSummary(store: VistaStore, hotelId: string, covers = 6): Promise<HotelSummary | undefined> {
  const table = await imagesTable(store);
  const filter = `${C.hotelId} = ${sqlString(hotelId)}`;
  const imageCount = await table.countRows(filter);
  if (imageCount === 0) return undefined;
  const present = await tableColumns(table);
  const columns = [C.tags, ...[C.hotelName, C.city].filter((c) => present.has(c))];
  const counts = new Map<string, number>();
  let hotelName: string | null = null;
  let city: string | null = null;
  for await (const batch of table.query().where(filter).select(columns).limit(MAX_HOTEL_SCAN)) {
    const tags = batch.getChild(C.tags)!;
    for (let i = 0; i < batch.numRows; i++) {
      for (const t of (tags.get(i) as Vector | null) ?? []) counts.set(t as string, (counts.get(t as string) ?? 0) + 1);
      hotelName ??= (batch.getChild(C.hotelName)?.get(i) as string | null) ?? null;
      city ??= (batch.getChild(C.city)?.get(i) as string | null) ?? null;
    }
  }
  const tags = [...counts.entries()].map(([tag, count]) => ({ tag, count })).sort((a, b) => b.count - a.count || a.tag.localeCompare(b.tag));
  // Covers: the images carrying the most tags (the most telling photos), drawn from a first page.
  const candidates = await browse(store, { hotelId, k: 100 });
  const coverImages = candidates.sort((a, b) => b.tags.length - a.tags.length || a.imageId.localeCompare(b.imageId)).slice(0, covers);
  return { hotelId, hotelName, city, imageCount, tags, covers: coverImages };
}

/** How many images carry each tag, streamed batch by batch (flat memory at any store size). */
export async function countTags(store: VistaStore): Promise<{ counts: Map<string, number>; images: number }> {
  const table = await imagesTable(store);
  const counts = new Map<string, number>();
  let images = 0;
  for await (const batch of table.query().select([C.tags])) {
    const tags = batch.getChild(C.tags)!;
    images += batch.numRows;
    for (let i = 0; i < batch.numRows; i++) {
      for (const t of (tags.get(i) as Vector | null) ?? []) counts.set(t as string, (counts.get(t as string) ?? 0) + 1);
    }
  }
  return { counts, images };
}
