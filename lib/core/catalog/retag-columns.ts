/**
 * The re-tag's Arrow plumbing, on buffers rather than row objects: a batch's embeddings as the
 * typed array they are stored in, string columns compared and counted by their UTF-8 bytes, and
 * the new tags, tag_scores and taxonomy_id columns assembled from typed arrays. At a million rows
 * with dozens of tags each, a JS string or object per value costs more than everything else.
 */
import { type Data, DataType, Field, type FixedSizeList, Float32, List, makeData, Precision, Utf8, type Vector } from 'apache-arrow';
import type { EmbeddingBlock, TaggedBlock } from './retag-score';

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** The column's embeddings without a copy when it is one chunk (a scanned batch's always is). */
export function embeddingBlock(column: Vector): EmbeddingBlock {
  const dim = (column.type as FixedSizeList).listSize;
  const rows = column.length;
  const chunks = (column.data as Data<FixedSizeList>[]).map((data) => {
    const child = data.children[0] as Data<DataType>;
    // Checked by value, not instanceof: LanceDB may hand back types of its own apache-arrow copy.
    const half = DataType.isFloat(child.type) && child.type.precision === Precision.HALF;
    // Arrow JS slices a list's child along with it, and `values` starts at the slice.
    const values = half ? (child.values as Uint16Array) : (child.values as Float32Array);
    return values.subarray(0, data.length * dim);
  });
  if (chunks.length === 1) return { rows, dim, values: chunks[0] };
  const values = chunks[0] instanceof Uint16Array ? new Uint16Array(rows * dim) : new Float32Array(rows * dim);
  let at = 0;
  for (const chunk of chunks) {
    values.set(chunk, at);
    at += chunk.length;
  }
  return { rows, dim, values };
}

/** Index of the first row whose string differs from `expected`, or -1. */
export function firstDifferent(column: Vector, expected: string): number {
  const want = utf8.encode(expected);
  let row = 0;
  for (const data of column.data as Data<Utf8>[]) {
    if (!DataType.isUtf8(data.type)) {
      for (let i = 0; i < data.length; i++, row++) if (column.get(row) !== expected) return row;
      continue;
    }
    const { valueOffsets: offsets, values: bytes } = data;
    for (let i = data.offset; i < data.offset + data.length; i++, row++) {
      if (data.nullBitmap && data.nullCount > 0 && !data.getValid(i - data.offset)) return row;
      const start = offsets[i];
      if (offsets[i + 1] - start !== want.length) return row;
      for (let k = 0; k < want.length; k++) if (bytes[start + k] !== want[k]) return row;
    }
  }
  return -1;
}

/** Counts the strings of a list<utf8> column (tags per label) without making a string per value. */
export class StringCounter {
  private readonly buckets = new Map<number, { bytes: Uint8Array; count: number }[]>();

  add(column: Vector): void {
    for (const data of column.data as Data<List<Utf8>>[]) {
      const child = data.children[0] as Data<Utf8>;
      const { valueOffsets: offsets, values: bytes } = child;
      const first = data.valueOffsets[data.offset];
      const last = data.valueOffsets[data.offset + data.length];
      for (let v = child.offset + first; v < child.offset + last; v++) this.addBytes(bytes, offsets[v], offsets[v + 1]);
    }
  }

  private addBytes(bytes: Uint8Array, start: number, end: number): void {
    let hash = 0x811c9dc5;
    for (let k = start; k < end; k++) hash = Math.imul(hash ^ bytes[k], 0x01000193);
    let bucket = this.buckets.get(hash);
    if (!bucket) this.buckets.set(hash, (bucket = []));
    for (const entry of bucket) {
      if (entry.bytes.length !== end - start) continue;
      let same = true;
      for (let k = 0; k < entry.bytes.length && same; k++) same = entry.bytes[k] === bytes[start + k];
      if (same) {
        entry.count++;
        return;
      }
    }
    bucket.push({ bytes: bytes.slice(start, end), count: 1 });
  }

  into(counts: Record<string, number>): void {
    for (const bucket of this.buckets.values()) {
      for (const { bytes, count } of bucket) {
        const name = utf8Decoder.decode(bytes);
        counts[name] = (counts[name] ?? 0) + count;
      }
    }
  }
}

/** The label names as UTF-8, once, for tagsData. */
export function labelBytes(labels: readonly string[]): Uint8Array[] {
  return labels.map((label) => utf8.encode(label));
}

/** tags: list<utf8> from a tagged block. */
export function tagsData(block: TaggedBlock, names: readonly Uint8Array[]): Data<List<Utf8>> {
  const hits = block.labels.length;
  const valueOffsets = new Int32Array(hits + 1);
  let size = 0;
  for (let h = 0; h < hits; h++) valueOffsets[h + 1] = size += names[block.labels[h]].length;
  const data = new Uint8Array(size);
  for (let h = 0; h < hits; h++) {
    const name = names[block.labels[h]];
    const at = valueOffsets[h];
    for (let k = 0; k < name.length; k++) data[at + k] = name[k];
  }
  const child = makeData({ type: new Utf8(), length: hits, nullCount: 0, valueOffsets, data });
  return makeData({ type: new List(new Field('item', new Utf8(), true)), length: block.rows, nullCount: 0, valueOffsets: block.offsets, child });
}

/** tag_scores: list<float32>, aligned with tagsData. */
export function scoresData(block: TaggedBlock): Data<List<Float32>> {
  const child = makeData({ type: new Float32(), length: block.scores.length, nullCount: 0, data: block.scores });
  return makeData({ type: new List(new Field('item', new Float32(), true)), length: block.rows, nullCount: 0, valueOffsets: block.offsets, child });
}

/** Row r's tags as strings (for the rename path, which names files per row anyway). */
export function rowTags(block: TaggedBlock, labels: readonly string[], row: number): string[] {
  const tags: string[] = [];
  for (let h = block.offsets[row]; h < block.offsets[row + 1]; h++) tags.push(labels[block.labels[h]]);
  return tags;
}
