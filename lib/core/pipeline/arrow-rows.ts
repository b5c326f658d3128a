/**
 * EnrichedImage rows ⇄ Arrow IPC bytes in the result schema. Every column is built in bulk
 * straight into its Arrow buffers (offsets, values, validity) instead of through apache-arrow's
 * per-value builders: those cost the worker's main thread ~0.4 ms per image, most of what it did,
 * and produce the same bytes (test/pipeline/arrow-rows.test.ts).
 */
import {
  Data,
  FixedSizeList,
  Float32,
  Int32,
  List,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMillisecond,
  Utf8,
  makeData,
  tableFromIPC,
  tableToIPC,
} from 'apache-arrow';
import type { EnrichedImage } from '../types';
import { ResultColumn as C, resultSchema } from './schema';

const encoder = new TextEncoder();

/**
 * A Utf8 column: all strings encoded at once; when the bytes are as many as the characters every
 * string is ASCII and the offsets are the string lengths, otherwise each string is measured.
 * `undefined` or `null` is a null.
 */
export function utf8Data(values: readonly (string | null | undefined)[]): Data<Utf8> {
  const n = values.length;
  const joined = values.join(''); // null and undefined join as ''
  const bytes = encoder.encode(joined);
  const offsets = new Int32Array(n + 1);
  const ascii = bytes.length === joined.length;
  let nullCount = 0;
  for (let i = 0, at = 0; i < n; i++) {
    const v = values[i];
    if (v === undefined || v === null) nullCount++;
    else at += ascii ? v.length : Buffer.byteLength(v, 'utf8');
    offsets[i + 1] = at;
  }
  return makeData({ type: new Utf8(), length: n, nullCount, nullBitmap: nullCount > 0 ? validity(values) : null, valueOffsets: offsets, data: bytes });
}

/** Validity bits, in a buffer sized as apache-arrow's builders size it (whole 64-byte blocks): the same file bytes. */
function validity(values: readonly unknown[]): Uint8Array {
  const bitmap = new Uint8Array(Math.max(64, Math.ceil(((values.length + 7) >> 3) / 64) * 64));
  values.forEach((v, i) => {
    if (v !== undefined && v !== null) bitmap[i >> 3] |= 1 << (i & 7);
  });
  return bitmap;
}

/** A List<Utf8> column from one string array per row. */
function utf8ListData(type: List<Utf8>, lists: readonly (readonly string[])[]): Data<List<Utf8>> {
  const offsets = listOffsets(lists);
  const items = new Array<string>(offsets[lists.length]);
  lists.forEach((list, i) => {
    for (let k = 0; k < list.length; k++) items[offsets[i] + k] = list[k];
  });
  return makeData({ type, length: lists.length, nullCount: 0, valueOffsets: offsets, child: utf8Data(items) });
}

/** A List<Float32> column from one number array per row (rounded to float32 as Float32Array.from does). */
function float32ListData(type: List<Float32>, lists: readonly (readonly number[])[]): Data<List<Float32>> {
  const offsets = listOffsets(lists);
  const values = new Float32Array(offsets[lists.length]);
  lists.forEach((list, i) => values.set(list, offsets[i]));
  return makeData({ type, length: lists.length, nullCount: 0, valueOffsets: offsets, child: makeData({ type: type.children[0].type, length: values.length, nullCount: 0, data: values }) });
}

function listOffsets(lists: readonly { length: number }[]): Int32Array {
  const offsets = new Int32Array(lists.length + 1);
  lists.forEach((list, i) => {
    offsets[i + 1] = offsets[i] + list.length;
  });
  return offsets;
}

export function rowsToArrowFile(rows: EnrichedImage[], embedDim: number): Uint8Array {
  const schema = resultSchema(embedDim);
  const n = rows.length;
  const utf8 = (pick: (r: EnrichedImage) => string | undefined) => utf8Data(rows.map(pick));
  const int32 = (pick: (r: EnrichedImage) => number) => makeData({ type: new Int32(), length: n, nullCount: 0, data: Int32Array.from(rows, pick) });

  const children = schema.fields.map((f): Data => {
    switch (f.name) {
      case C.imageId: return utf8((r) => r.imageId);
      case C.sourceUri: return utf8((r) => r.sourceUri);
      case C.hotelId: return utf8((r) => r.hotelId);
      case C.hotelName: return utf8((r) => r.hotelName);
      case C.city: return utf8((r) => r.city);
      case C.seoFilename: return utf8((r) => r.seoFilename);
      case C.tags: return utf8ListData(f.type as List<Utf8>, rows.map((r) => r.tags));
      case C.tagScores: return float32ListData(f.type as List<Float32>, rows.map((r) => r.tagScores));
      case C.embedding: {
        const type = f.type as FixedSizeList<Float32>;
        const packed = new Float32Array(n * embedDim);
        rows.forEach((row, i) => packed.set(row.embedding, i * embedDim));
        return makeData({ type, length: n, nullCount: 0, child: makeData({ type: type.children[0].type, length: packed.length, nullCount: 0, data: packed }) });
      }
      case C.width: return int32((r) => r.width);
      case C.height: return int32((r) => r.height);
      case C.format: return utf8((r) => r.format);
      case C.contentSha256: return utf8((r) => r.contentSha256);
      case C.modelId: return utf8((r) => r.modelId);
      case C.taxonomyId: return utf8((r) => r.taxonomyId);
      case C.processedAt:
        return makeData({ type: f.type as TimestampMillisecond, length: n, nullCount: 0, data: BigInt64Array.from(rows, (r) => BigInt(r.processedAt.getTime())) });
      default: throw new Error(`result schema column without a writer: ${f.name}`);
    }
  });
  const struct = makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children });
  const table = new Table(schema as Schema, [new RecordBatch(schema, struct)]);
  return tableToIPC(table, 'file');
}

/** Reads a part file back (tests, loaders). */
export function readArrowFile(bytes: Uint8Array): Table {
  return tableFromIPC(bytes);
}
