/**
 * The Arrow schema of `part-NNNNN.arrow` result files. It is the contract between the worker
 * (writer) and the loaders (LanceDB), so it lives in one place and both import it.
 *
 * `hotel_name` and `city` came later: part files and stores written before them lack the columns,
 * and readers take a missing one as null (CATALOG_COLUMNS_ADDED_LATER).
 */
import { Field, FixedSizeList, Float32, Int32, List, Schema, TimestampMillisecond, Utf8 } from 'apache-arrow';

export const ResultColumn = {
  imageId: 'image_id',
  sourceUri: 'source_uri',
  hotelId: 'hotel_id',
  hotelName: 'hotel_name',
  city: 'city',
  seoFilename: 'seo_filename',
  tags: 'tags',
  tagScores: 'tag_scores',
  embedding: 'embedding',
  width: 'width',
  height: 'height',
  format: 'format',
  contentSha256: 'content_sha256',
  modelId: 'model_id',
  taxonomyId: 'taxonomy_id',
  processedAt: 'processed_at',
} as const;

export function resultSchema(embedDim: number): Schema {
  const C = ResultColumn;
  return new Schema([
    new Field(C.imageId, new Utf8(), false),
    new Field(C.sourceUri, new Utf8(), false),
    new Field(C.hotelId, new Utf8(), true),
    new Field(C.hotelName, new Utf8(), true),
    new Field(C.city, new Utf8(), true),
    new Field(C.seoFilename, new Utf8(), false),
    new Field(C.tags, new List(new Field('item', new Utf8(), true)), false),
    new Field(C.tagScores, new List(new Field('item', new Float32(), true)), false),
    new Field(C.embedding, new FixedSizeList(embedDim, new Field('item', new Float32(), true)), false),
    new Field(C.width, new Int32(), false),
    new Field(C.height, new Int32(), false),
    new Field(C.format, new Utf8(), false),
    new Field(C.contentSha256, new Utf8(), false),
    new Field(C.modelId, new Utf8(), false),
    new Field(C.taxonomyId, new Utf8(), false),
    new Field(C.processedAt, new TimestampMillisecond(), false),
  ]);
}

/** Nullable columns added after the first stores were written: absent in old parts and tables. */
export const CATALOG_COLUMNS_ADDED_LATER = [ResultColumn.hotelName, ResultColumn.city] as const;
