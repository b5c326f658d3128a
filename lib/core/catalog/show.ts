/** Everything the store holds about one image: its row (if it was enriched) and its error records. */
import { ResultColumn as C } from '../pipeline/schema';
import { TableName, type VistaStore } from '../store/connect';
import { sqlString } from '../store/tables';
import { embeddingFromArrow } from '../store/vectors';

export interface EmbeddingSummary {
  dim: number;
  norm: number;
  /** The first few values, to eyeball; the full vector is in --json --with-embedding. */
  head: number[];
  values?: number[];
}

export interface ImageRecord {
  imageId: string;
  /** Every stored column but the embedding, as stored (tags with their scores below). */
  row?: Record<string, unknown>;
  /** tag → probability, best first. */
  tagScores?: { tag: string; score: number }[];
  embedding?: EmbeddingSummary;
  /** Rows of image_errors for this image (one per failed load attempt that recorded it). */
  errors: Record<string, unknown>[];
}

function plain(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return Number(value);
  if (value && typeof value === 'object' && 'toArray' in value && typeof (value as { toArray: unknown }).toArray === 'function') {
    return Array.from((value as { toArray(): ArrayLike<unknown> }).toArray(), plain);
  }
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  return value;
}

export async function showImage(store: VistaStore, imageId: string, options: { withEmbedding?: boolean } = {}): Promise<ImageRecord> {
  const record: ImageRecord = { imageId, errors: [] };
  const filter = `${C.imageId} = ${sqlString(imageId)}`;
  const images = await store.table(TableName.images);
  if (images) {
    const [raw] = (await images.query().where(filter).limit(1).toArray()) as Record<string, unknown>[];
    if (raw) {
      const row: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(raw)) if (key !== C.embedding) row[key] = plain(value);
      if (typeof raw[C.processedAt] === 'number') row[C.processedAt] = new Date(raw[C.processedAt] as number).toISOString();
      record.row = row;
      const tags = (row[C.tags] as string[]) ?? [];
      const scores = (row[C.tagScores] as number[]) ?? [];
      record.tagScores = tags.map((tag, i) => ({ tag, score: scores[i] }));
      const embedding = embeddingFromArrow(raw[C.embedding] as never);
      record.embedding = {
        dim: embedding.length,
        norm: Math.hypot(...embedding),
        head: Array.from(embedding.subarray(0, 8)),
        ...(options.withEmbedding ? { values: Array.from(embedding) } : {}),
      };
    }
  }
  const failures = await store.table(TableName.imageErrors);
  if (failures) {
    const rows = (await failures.query().where(filter).toArray()) as Record<string, unknown>[];
    record.errors = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, plain(v)])));
  }
  return record;
}

/** A readable, aligned listing of a record. */
export function formatImageRecord(record: ImageRecord): string {
  if (!record.row && record.errors.length === 0) return `${record.imageId}: not in the store (no row, no error record)`;
  const lines: string[] = [];
  const field = (name: string, value: unknown) => lines.push(`${name.padEnd(16)} ${value === null || value === undefined ? '-' : String(value)}`);
  if (record.row) {
    for (const [key, value] of Object.entries(record.row)) {
      if (key === C.tags || key === C.tagScores) continue;
      field(key, value);
    }
    field('tags', record.tagScores!.map((t) => `${t.tag} (${t.score.toFixed(3)})`).join(', ') || '(none)');
    const e = record.embedding!;
    field('embedding', `dim ${e.dim}, norm ${e.norm.toFixed(4)}, [${e.head.map((v) => v.toFixed(4)).join(', ')}, …]`);
  } else {
    lines.push('no enriched row: the image failed');
  }
  for (const error of record.errors) {
    lines.push(`error            ${error.error_code}: ${error.message} (shard ${error.shard_id}, load ${error.load_id}, ${error.source_uri})`);
  }
  return lines.join('\n');
}
