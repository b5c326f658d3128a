/**
 * Synthetic worker output for tests: a complete shard folder (part-*.arrow in the result schema,
 * part markers, errors.jsonl, summary.json last) with clustered unit embeddings, tags and hotels
 * that follow the clusters. Deterministic for a given seed. Works for local folders and s3://.
 */
import { makeEmbeddingSpace, writeShardFolder, type SyntheticRow } from '../../bench/store-data';
import type { ImageErrorCode } from '../../lib/core/errors';

export type { SyntheticRow } from '../../bench/store-data';

export interface SyntheticShardOptions {
  shardId: string;
  /** Succeeded images. */
  count: number;
  dim: number;
  seed: number;
  /** Failed images (errors.jsonl and part markers only). @default 0 */
  failures?: number;
  /** These failed images instead of generated ones. */
  failedImages?: { imageId: string; code: ImageErrorCode }[];
  /** Rows per part file. @default 10_000 */
  partSize?: number;
  /** Clusters of the embedding space, shared by every shard written with the same value. @default 16 */
  clusters?: number;
  /** Image ids are `<imagePrefix>-img-<n>`: shards with one prefix hold the same images. @default shardId */
  imagePrefix?: string;
  /** @default 'synthetic' */
  modelId?: string;
}

export interface SyntheticShard {
  /** The shard folder. */
  dir: string;
  shardId: string;
  rows: SyntheticRow[];
  /** rows[i]'s L2-normalized embedding. */
  embeddings: Float32Array[];
  failedIds: string[];
  parts: number;
}

/** Writes a complete shard folder at `dir` (the shard's own folder, e.g. …/results/shard-00001). */
export async function writeSyntheticShardResults(dir: string, options: SyntheticShardOptions): Promise<SyntheticShard> {
  const space = makeEmbeddingSpace({ dim: options.dim, clusters: options.clusters ?? 16, seed: 42 });
  const written = await writeShardFolder(dir, { ...options, space, keep: true });
  const kept = written.kept!;
  return { dir, shardId: options.shardId, rows: kept.rows, embeddings: kept.embeddings, failedIds: kept.failedIds, parts: written.parts };
}
