/**
 * Vector index settings derived from the table's size and the embedding width (docs/store.md).
 * Pure: the indexer applies them, the benchmark reports them, tests check the formula.
 */
import * as lancedb from '@lancedb/lancedb';

export type VectorIndexType = 'IVF_RQ' | 'IVF_PQ' | 'IVF_HNSW_SQ';

export interface VectorIndexSettings {
  type?: VectorIndexType;
  numPartitions?: number;
  /** IVF_PQ only. */
  numSubVectors?: number;
  /** k-means iterations for the IVF centroids. @default 50 */
  maxIterations?: number;
  /** Training vectors per partition. @default 256 */
  sampleRate?: number;
}

export interface VectorIndexPlan {
  type: VectorIndexType;
  numPartitions: number;
  numSubVectors?: number;
  maxIterations: number;
  sampleRate: number;
  /** The rows the index was planned for (kept with the index to decide when to retrain). */
  rows: number;
}

/** Rows per IVF partition below which scanning a partition stops being worth a centroid. */
const MIN_PARTITION_ROWS = 4096;
/** One HNSW graph per partition; keep each graph's build memory in check. */
const HNSW_PARTITION_ROWS = 1_000_000;

/**
 * IVF partitions: rows / 4096 up to 16.7M rows (= 4096²), √rows beyond. Small partitions waste
 * the centroid search; many partitions make k-means training (∝ partitions²) and the per-query
 * centroid scan (∝ partitions) expensive, so the count grows only as √rows at scale.
 */
export function ivfPartitions(rows: number): number {
  return Math.max(1, Math.round(Math.min(rows / MIN_PARTITION_ROWS, Math.sqrt(rows))));
}

/** PQ: 8 dimensions per sub-vector (64 one-byte codes for 512-d), the accurate SIMD-friendly choice. */
export function pqSubVectors(dim: number): number {
  if (dim % 8 === 0) return dim / 8;
  if (dim % 16 === 0) return dim / 16;
  return 1;
}

export function planVectorIndex(rows: number, dim: number, settings: VectorIndexSettings = {}): VectorIndexPlan {
  const type = settings.type ?? 'IVF_RQ';
  const numPartitions = settings.numPartitions ?? (type === 'IVF_HNSW_SQ' ? Math.max(1, Math.ceil(rows / HNSW_PARTITION_ROWS)) : ivfPartitions(rows));
  return {
    type,
    numPartitions,
    ...(type === 'IVF_PQ' ? { numSubVectors: settings.numSubVectors ?? pqSubVectors(dim) } : {}),
    maxIterations: settings.maxIterations ?? 50,
    sampleRate: settings.sampleRate ?? 256,
    rows,
  };
}

/** Every vector index is trained for cosine distance: the embeddings are compared by angle. */
export function toLanceIndex(plan: VectorIndexPlan): lancedb.Index {
  const common = { distanceType: 'cosine' as const, numPartitions: plan.numPartitions, maxIterations: plan.maxIterations, sampleRate: plan.sampleRate };
  switch (plan.type) {
    case 'IVF_RQ':
      return lancedb.Index.ivfRq(common);
    case 'IVF_PQ':
      return lancedb.Index.ivfPq({ ...common, numSubVectors: plan.numSubVectors });
    case 'IVF_HNSW_SQ':
      return lancedb.Index.hnswSq(common);
  }
}

/**
 * An index trained on far fewer rows than the table now holds has centroids that no longer fit
 * (new rows were only assigned to them by optimize): retrain past 2× growth or a changed type.
 */
export function needsRetrain(existing: VectorIndexPlan | undefined, wanted: VectorIndexPlan): boolean {
  if (!existing) return true;
  return existing.type !== wanted.type || wanted.rows > 2 * existing.rows;
}
