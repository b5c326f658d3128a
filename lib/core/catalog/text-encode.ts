/**
 * CSV and JSON Lines straight from Arrow buffers into a ByteSink: strings are copied (and escaped)
 * byte by byte from the column's UTF-8 data, numbers formatted once each, and no per-row object or
 * JS string is built. One writer per column is made per batch; the row loop only calls them.
 *
 * The text is the one `JSON.stringify` / RFC 4180 quoting gives (test/catalog/export.test.ts reads
 * it back): lists as JSON arrays, timestamps ISO 8601 UTC, float16 widened, non-finite numbers
 * `null` in JSON. Column types without a fast path go through `Vector.get` and `JSON.stringify`.
 */
import { type Data, type DataType, Precision, type RecordBatch, TimeUnit, Type, type Vector, util } from 'apache-arrow';
import type { ByteSink } from './byte-sink';

export type TextFormat = 'csv' | 'jsonl';

/** Writes row i's value, null included, in the format's syntax. */
type CellWriter = (sink: ByteSink, i: number) => void;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
const HEX = '0123456789abcdef';
const NULL_JSON = Buffer.from('null');

function isValid(data: Data, i: number): boolean {
  const bitmap = data.nullBitmap;
  if (data.nullCount === 0 || !bitmap || bitmap.length === 0) return true;
  const bit = data.offset + i;
  return (bitmap[bit >> 3] & (1 << (bit & 7))) !== 0;
}

/** A JSON string from UTF-8 bytes, escaped as JSON.stringify does. */
function jsonBytes(sink: ByteSink, values: Uint8Array, start: number, end: number): void {
  sink.reserve((end - start) * 6 + 2);
  const buf = sink.buf;
  let p = sink.pos;
  buf[p++] = QUOTE;
  for (let k = start; k < end; k++) {
    const b = values[k];
    if (b >= 0x20 && b !== QUOTE && b !== BACKSLASH) {
      buf[p++] = b;
      continue;
    }
    buf[p++] = BACKSLASH;
    if (b === QUOTE || b === BACKSLASH) buf[p++] = b;
    else if (b === 0x08) buf[p++] = 0x62; // b
    else if (b === 0x0c) buf[p++] = 0x66; // f
    else if (b === NEWLINE) buf[p++] = 0x6e; // n
    else if (b === RETURN) buf[p++] = 0x72; // r
    else if (b === 0x09) buf[p++] = 0x74; // t
    else {
      buf[p++] = 0x75; // u00XX
      buf[p++] = 0x30;
      buf[p++] = 0x30;
      buf[p++] = HEX.charCodeAt(b >> 4);
      buf[p++] = HEX.charCodeAt(b & 15);
    }
  }
  buf[p++] = QUOTE;
  sink.pos = p;
}

/** RFC 4180 for the cell written since `start`: quoted, quotes doubled, when it holds `,` `"` CR or LF. */
function csvQuoteSince(sink: ByteSink, start: number): void {
  let buf = sink.buf;
  const end = sink.pos;
  let quotes = 0;
  let special = false;
  for (let k = start; k < end; k++) {
    const b = buf[k];
    if (b === QUOTE) quotes++;
    else if (b === COMMA || b === NEWLINE || b === RETURN) special = true;
  }
  if (!special && quotes === 0) return;
  sink.reserve(quotes + 2);
  buf = sink.buf;
  // Moved right to left, so that no byte is overwritten before it is read.
  let w = end + quotes + 1;
  buf[w--] = QUOTE;
  for (let k = end - 1; k >= start; k--) {
    const b = buf[k];
    buf[w--] = b;
    if (b === QUOTE) buf[w--] = QUOTE;
  }
  buf[w] = QUOTE;
  sink.pos = end + quotes + 2;
}

function copyBytes(sink: ByteSink, values: Uint8Array, start: number, end: number): void {
  sink.reserve(end - start);
  const buf = sink.buf;
  let p = sink.pos;
  for (let k = start; k < end; k++) buf[p++] = values[k];
  sink.pos = p;
}

/** A JSON number as JSON.stringify writes it. */
function jsonNumber(sink: ByteSink, v: number): void {
  if (Number.isFinite(v)) sink.ascii(String(v));
  else sink.raw(NULL_JSON);
}

/** The i-th value of a numeric column as a JS number, or undefined when there is no fast path. */
function numberReader(data: Data): ((i: number) => number) | undefined {
  const type = data.type as DataType;
  const values = data.values as ArrayLike<number | bigint>;
  switch (type.typeId) {
    case Type.Float:
      if ((type as unknown as { precision: Precision }).precision === Precision.HALF) return (i) => util.uint16ToFloat64(values[i] as number);
      return (i) => values[i] as number;
    case Type.Int:
      return (type as unknown as { bitWidth: number }).bitWidth === 64 ? (i) => Number(values[i]) : (i) => values[i] as number;
    default:
      return undefined;
  }
}

/** A JSON array from a list column's child, or undefined when its item type has no fast path. */
function jsonListItems(child: Data): ((sink: ByteSink, from: number, to: number) => void) | undefined {
  const type = child.type as DataType;
  if (type.typeId === Type.Utf8) {
    const offsets = child.valueOffsets as Int32Array;
    const values = child.values as Uint8Array;
    return (sink, from, to) => {
      sink.byte(0x5b); // [
      for (let j = from; j < to; j++) {
        if (j > from) sink.byte(COMMA);
        if (isValid(child, j)) jsonBytes(sink, values, offsets[j], offsets[j + 1]);
        else sink.raw(NULL_JSON);
      }
      sink.byte(0x5d); // ]
    };
  }
  const read = numberReader(child);
  if (!read) return undefined;
  return (sink, from, to) => {
    sink.byte(0x5b);
    for (let j = from; j < to; j++) {
      if (j > from) sink.byte(COMMA);
      if (isValid(child, j)) jsonNumber(sink, read(j));
      else sink.raw(NULL_JSON);
    }
    sink.byte(0x5d);
  };
}

function timestampMs(data: Data): ((i: number) => number) | undefined {
  const type = data.type as DataType;
  const values = data.values as ArrayLike<number | bigint>;
  if (type.typeId === Type.Timestamp) {
    const scale = { [TimeUnit.SECOND]: 1000, [TimeUnit.MILLISECOND]: 1, [TimeUnit.MICROSECOND]: 1e-3, [TimeUnit.NANOSECOND]: 1e-6 }[(type as unknown as { unit: TimeUnit }).unit];
    return (i) => Number(values[i]) * scale;
  }
  if (type.typeId === Type.Date) {
    return (type as unknown as { unit: number }).unit === 0 ? (i) => (values[i] as number) * 86_400_000 : (i) => Number(values[i]);
  }
  return undefined;
}

/** A cell writer for one column of one batch, null handling included. */
function cellWriter(vector: Vector, format: TextFormat): CellWriter {
  const data = vector.data.length === 1 ? (vector.data[0] as Data) : undefined;
  const csv = format === 'csv';
  const writeNull = csv ? () => undefined : (sink: ByteSink) => sink.raw(NULL_JSON);
  const typeId = data ? (data.type as DataType).typeId : undefined;

  if (data && typeId === Type.Utf8) {
    const offsets = data.valueOffsets as Int32Array;
    const values = data.values as Uint8Array;
    if (csv) {
      return (sink, i) => {
        if (!isValid(data, i)) return;
        const start = sink.pos;
        copyBytes(sink, values, offsets[i], offsets[i + 1]);
        csvQuoteSince(sink, start);
      };
    }
    return (sink, i) => (isValid(data, i) ? jsonBytes(sink, values, offsets[i], offsets[i + 1]) : writeNull(sink));
  }

  const read = data && numberReader(data);
  if (data && read) {
    if (csv) return (sink, i) => (isValid(data, i) ? sink.ascii(String(read(i))) : undefined);
    return (sink, i) => (isValid(data, i) ? jsonNumber(sink, read(i)) : writeNull(sink));
  }

  const ms = data && timestampMs(data);
  if (data && ms) {
    // Rows of a batch often share a timestamp (one load, one clock): the last one is kept.
    let lastMs = NaN;
    let lastText = '';
    return (sink, i) => {
      if (!isValid(data, i)) return writeNull(sink);
      const t = ms(i);
      if (t !== lastMs) (lastMs = t), (lastText = new Date(t).toISOString());
      if (csv) sink.ascii(lastText);
      else (sink.byte(QUOTE), sink.ascii(lastText), sink.byte(QUOTE));
    };
  }

  if (data && (typeId === Type.List || typeId === Type.FixedSizeList)) {
    const child = data.children[0] as Data;
    const items = jsonListItems(child);
    if (items) {
      const offsets = data.valueOffsets as Int32Array | undefined;
      const size = typeId === Type.FixedSizeList ? (data.type as unknown as { listSize: number }).listSize : 0;
      return (sink, i) => {
        if (!isValid(data, i)) return writeNull(sink);
        const start = sink.pos;
        if (offsets && typeId === Type.List) items(sink, offsets[i], offsets[i + 1]);
        else items(sink, i * size, (i + 1) * size);
        if (csv) csvQuoteSince(sink, start);
      };
    }
  }

  return genericWriter(vector, csv);
}

/** Any other type: the value as Vector.get gives it, through JSON. */
function genericWriter(vector: Vector, csv: boolean): CellWriter {
  const plain = (v: unknown): unknown => {
    if (typeof v === 'bigint') return Number(v);
    if (v instanceof Date) return v.toISOString();
    if (v && typeof v === 'object' && typeof (v as { toArray?: unknown }).toArray === 'function') {
      return Array.from((v as Vector).toArray() as ArrayLike<unknown>, plain);
    }
    return v;
  };
  return (sink, i) => {
    const v = plain(vector.get(i));
    if (v === null || v === undefined) return csv ? undefined : sink.raw(NULL_JSON);
    const start = sink.pos;
    if (csv && typeof v === 'string') sink.utf8(v);
    else if (csv && typeof v === 'number') sink.ascii(String(v));
    else sink.utf8(JSON.stringify(v));
    if (csv) csvQuoteSince(sink, start);
  };
}

/** The CSV header line. */
export function csvHeader(columns: readonly string[], sink: ByteSink): void {
  columns.forEach((name, c) => {
    if (c > 0) sink.byte(COMMA);
    const start = sink.pos;
    sink.utf8(name);
    csvQuoteSince(sink, start);
  });
  sink.byte(NEWLINE);
}

/**
 * Encodes a batch's rows from `from` on until the sink is full or the batch ends; returns the
 * next row to encode (the batch's numRows when done).
 */
export function batchEncoder(batch: RecordBatch, columns: readonly string[], format: TextFormat): (sink: ByteSink, from: number) => number {
  const writers = columns.map((name) => {
    const vector = batch.getChild(name);
    if (!vector) throw new Error(`the batch has no column ${name}`);
    return cellWriter(vector, format);
  });
  const prefixes = columns.map((name, c) => Buffer.from(format === 'jsonl' ? `${c ? ',' : '{'}${JSON.stringify(name)}:` : c ? ',' : ''));
  const end = Buffer.from(format === 'jsonl' ? '}\n' : '\n');
  const n = columns.length;
  return (sink, from) => {
    let i = from;
    for (; i < batch.numRows && !sink.full; i++) {
      for (let c = 0; c < n; c++) {
        sink.raw(prefixes[c]);
        writers[c](sink, i);
      }
      sink.raw(end);
    }
    return i;
  };
}
