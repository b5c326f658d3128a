/**
 * `vista export`: the images table as CSV or JSON Lines, streamed batch by batch so memory stays
 * flat whatever the catalog's size. The output feeds a metadata store next to the vector store
 * (docs/catalog.md shows Postgres COPY and DuckDB).
 *
 * Column encoding (both formats): strings and numbers as they are; timestamps as ISO 8601 UTC;
 * list columns (tags, tag_scores) as JSON arrays; the embedding, only on request, as a JSON array
 * of float32 values, which is also pgvector's text format ("[0.1,0.2,…]").
 */
import type * as lancedb from '@lancedb/lancedb';
import { type DataType, type RecordBatch, Type, type Vector } from 'apache-arrow';
import { ResultColumn as C } from '../pipeline/schema';
import { embeddingFromArrow } from '../store/vectors';
import { csvField, openOutputFile } from './output-file';
import { columnNames, scanBatches } from './scan';

export type ExportFormat = 'csv' | 'jsonl';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'jsonl'];

export interface ExportOptions {
  format: ExportFormat;
  /** Local file path; written under a temporary name and renamed when complete. */
  out: string;
  where?: string;
  /** Include the embedding column. @default false */
  withEmbedding?: boolean;
  /** Only these columns, in this order. @default every column (but the embedding unless asked) */
  columns?: string[];
  batchRows?: number;
  onProgress?: (rows: number) => void;
}

export interface ExportReport {
  rows: number;
  bytes: number;
  columns: string[];
  out: string;
}

type Cell = string | number | null | unknown[];

/** A reader of one column's i-th value, as the value written out. */
function cellReader(vector: Vector, name: string): (i: number) => Cell {
  if (name === C.embedding) return (i) => Array.from(embeddingFromArrow(vector.get(i) as Vector));
  const type = vector.type as DataType;
  switch (type.typeId) {
    case Type.Timestamp:
    case Type.Date:
      return (i) => {
        const v = vector.get(i) as number | Date | null;
        return v === null ? null : new Date(typeof v === 'number' ? v : v.getTime()).toISOString();
      };
    case Type.List:
    case Type.FixedSizeList:
      return (i) => {
        const v = vector.get(i) as Vector | null;
        return v === null ? null : Array.from(v.toArray() as ArrayLike<unknown>, (x) => (typeof x === 'bigint' ? Number(x) : x));
      };
    case Type.Int:
      return (i) => {
        const v = vector.get(i) as number | bigint | null;
        return typeof v === 'bigint' ? Number(v) : v;
      };
    default:
      return (i) => vector.get(i) as Cell;
  }
}

function csvCell(value: Cell): string {
  if (value === null) return '';
  if (Array.isArray(value)) return csvField(JSON.stringify(value));
  return typeof value === 'number' ? String(value) : csvField(value);
}

function encodeBatch(batch: RecordBatch, columns: string[], format: ExportFormat): string {
  const readers = columns.map((name) => cellReader(batch.getChild(name)!, name));
  let text = '';
  for (let i = 0; i < batch.numRows; i++) {
    if (format === 'jsonl') {
      const row: Record<string, Cell> = {};
      for (let c = 0; c < columns.length; c++) row[columns[c]] = readers[c](i);
      text += `${JSON.stringify(row)}\n`;
    } else {
      let line = '';
      for (let c = 0; c < columns.length; c++) line += (c ? ',' : '') + csvCell(readers[c](i));
      text += `${line}\n`;
    }
  }
  return text;
}

export async function exportImages(table: lancedb.Table, options: ExportOptions): Promise<ExportReport> {
  const all = await columnNames(table);
  const columns = options.columns ?? all.filter((name) => name !== C.embedding || options.withEmbedding);
  const missing = columns.filter((c) => !all.includes(c));
  if (missing.length > 0) throw new Error(`no such column(s): ${missing.join(', ')}; the table has ${all.join(', ')}`);
  const out = await openOutputFile(options.out);
  let rows = 0;
  try {
    if (options.format === 'csv') await out.write(`${columns.map(csvField).join(',')}\n`);
    for await (const batch of scanBatches(table, { columns, where: options.where, batchRows: options.batchRows })) {
      await out.write(encodeBatch(batch, columns, options.format));
      rows += batch.numRows;
      options.onProgress?.(rows);
    }
    await out.commit();
  } catch (err) {
    await out.abort();
    throw err;
  }
  return { rows, bytes: out.bytes, columns, out: options.out };
}
