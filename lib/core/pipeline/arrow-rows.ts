/**
 * EnrichedImage rows ⇄ Arrow IPC bytes in the result schema. The embedding column is built
 * straight from one packed Float32Array (no per-value boxing): it is most of the bytes.
 */
import {
  Field,
  FixedSizeList,
  Float32,
  RecordBatch,
  Schema,
  Struct,
  Table,
  makeData,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
} from 'apache-arrow';
import type { EnrichedImage } from '../types';
import { ResultColumn as C, resultSchema } from './schema';

export function rowsToArrowFile(rows: EnrichedImage[], embedDim: number): Uint8Array {
  const schema = resultSchema(embedDim);
  const field = (name: string): Field => schema.fields.find((f) => f.name === name)!;
  const column = <T>(name: string, values: T[]) => vectorFromArray(values as never, field(name).type).data[0];

  const packed = new Float32Array(rows.length * embedDim);
  rows.forEach((row, i) => packed.set(row.embedding, i * embedDim));
  const embeddingType = field(C.embedding).type as FixedSizeList<Float32>;
  const embedding = makeData({
    type: embeddingType,
    length: rows.length,
    nullCount: 0,
    child: makeData({ type: embeddingType.children[0].type, length: packed.length, nullCount: 0, data: packed }),
  });

  const children = schema.fields.map((f) => {
    switch (f.name) {
      case C.imageId: return column(f.name, rows.map((r) => r.imageId));
      case C.sourceUri: return column(f.name, rows.map((r) => r.sourceUri));
      case C.hotelId: return column(f.name, rows.map((r) => r.hotelId ?? null));
      case C.hotelName: return column(f.name, rows.map((r) => r.hotelName ?? null));
      case C.city: return column(f.name, rows.map((r) => r.city ?? null));
      case C.seoFilename: return column(f.name, rows.map((r) => r.seoFilename));
      case C.tags: return column(f.name, rows.map((r) => r.tags));
      case C.tagScores: return column(f.name, rows.map((r) => Float32Array.from(r.tagScores)));
      case C.embedding: return embedding;
      case C.width: return column(f.name, rows.map((r) => r.width));
      case C.height: return column(f.name, rows.map((r) => r.height));
      case C.format: return column(f.name, rows.map((r) => r.format));
      case C.contentSha256: return column(f.name, rows.map((r) => r.contentSha256));
      case C.modelId: return column(f.name, rows.map((r) => r.modelId));
      case C.taxonomyId: return column(f.name, rows.map((r) => r.taxonomyId));
      case C.processedAt: return column(f.name, rows.map((r) => r.processedAt));
      default: throw new Error(`result schema column without a writer: ${f.name}`);
    }
  });
  const struct = makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children });
  const table = new Table(schema as Schema, [new RecordBatch(schema, struct)]);
  return tableToIPC(table, 'file');
}

/** Reads a part file back (tests, loaders). */
export function readArrowFile(bytes: Uint8Array): Table {
  return tableFromIPC(bytes);
}
