/**
 * `vista export`: the images table as Parquet, CSV or JSON Lines, streamed batch by batch so
 * memory stays flat whatever the catalog's size. The output feeds a metadata store next to the
 * vector store (docs/catalog.md shows Postgres COPY and DuckDB).
 *
 * Parquet keeps the Arrow types (lists as LIST columns, the timestamp as a timestamp, the
 * embedding as a list of its stored float type). Text formats (text-encode.ts): strings and
 * numbers as they are; timestamps as ISO 8601 UTC; list columns (tags, tag_scores) as JSON arrays;
 * the embedding, only on request, as a JSON array of numbers, which is also pgvector's text format
 * ("[0.1,0.2,…]").
 */
import type * as lancedb from '@lancedb/lancedb';
import { Schema } from 'apache-arrow';
import { ResultColumn as C } from '../pipeline/schema';
import { ByteSink } from './byte-sink';
import { openOutputFile, type OutputFile } from '../io/output-file';
import { parquetRowCount, writeParquet } from './parquet-writer';
import { scanBatches } from './scan';
import { batchEncoder, csvHeader, type TextFormat } from './text-encode';

export type ExportFormat = 'parquet' | TextFormat;
export const EXPORT_FORMATS: readonly ExportFormat[] = ['parquet', 'csv', 'jsonl'];

export interface ExportOptions {
  format: ExportFormat;
  /** Local file path; written under a temporary name and renamed when complete. */
  out: string;
  where?: string;
  /** Include the embedding column. @default false */
  withEmbedding?: boolean;
  /** Only these columns, in this order. @default every column (but the embedding unless asked) */
  columns?: string[];
  /** Rows per scanned batch. @default 8192 */
  batchRows?: number;
  /** Parquet rows per row group at most. @default 65,536 */
  rowGroupRows?: number;
  onProgress?: (rows: number) => void;
}

export interface ExportReport {
  rows: number;
  bytes: number;
  columns: string[];
  out: string;
}

async function writeText(table: lancedb.Table, options: ExportOptions & { format: TextFormat }, columns: string[], out: OutputFile): Promise<number> {
  const sink = new ByteSink(out);
  if (options.format === 'csv') csvHeader(columns, sink);
  let rows = 0;
  for await (const batch of scanBatches(table, { columns, where: options.where, batchRows: options.batchRows })) {
    const encode = batchEncoder(batch, columns, options.format);
    for (let next = 0; next < batch.numRows; ) {
      next = encode(sink, next);
      if (sink.full) await sink.flush();
    }
    rows += batch.numRows;
    options.onProgress?.(rows);
  }
  await sink.flush();
  return rows;
}

export async function exportImages(table: lancedb.Table, options: ExportOptions): Promise<ExportReport> {
  const schema = await table.schema();
  const all = schema.fields.map((f) => f.name);
  const columns = options.columns ?? all.filter((name) => name !== C.embedding || options.withEmbedding);
  const missing = columns.filter((c) => !all.includes(c));
  if (missing.length > 0) throw new Error(`no such column(s): ${missing.join(', ')}; the table has ${all.join(', ')}`);
  if (!EXPORT_FORMATS.includes(options.format)) throw new Error(`unknown export format ${options.format}; use ${EXPORT_FORMATS.join(', ')}`);
  const out = await openOutputFile(options.out);
  let rows: number;
  try {
    if (options.format === 'parquet') {
      const batches = scanBatches(table, { columns, where: options.where, batchRows: options.batchRows });
      const selected = new Schema(columns.map((name) => schema.fields.find((f) => f.name === name)!));
      const plainColumns = [C.imageId, C.sourceUri, C.seoFilename, C.contentSha256].filter((c) => columns.includes(c));
      rows = await writeParquet(batches, selected, out, { rowGroupRows: options.rowGroupRows, plainColumns, onBatch: options.onProgress });
      await out.commit(async (temp) => {
        const written = await parquetRowCount(temp);
        if (written !== rows) throw new Error(`the Parquet writer wrote ${written} rows of ${rows}`);
      });
    } else {
      rows = await writeText(table, options as ExportOptions & { format: TextFormat }, columns, out);
      await out.commit();
    }
  } catch (err) {
    await out.abort();
    throw err;
  }
  return { rows, bytes: out.bytes, columns, out: options.out };
}
