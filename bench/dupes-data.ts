/**
 * Planted duplicates for the dupes tests and benchmark: rows rewritten in place, through
 * writeShardFolder's onPart hook, into copies of another row of the same part.
 */
import { normalizeInPlace, type SyntheticRow } from './store-data';

/** Cosine ≈ 1/√(1+noise²) between a near copy and its source (0.1 → ≈ 0.995). */
export const NEAR_COPY_NOISE = 0.1;

/** Row `to` becomes the same photo as row `from`: same hash, same embedding. */
export function plantExactCopy(embeddings: Float32Array, rows: SyntheticRow[], dim: number, from: number, to: number, sha: string): void {
  embeddings.copyWithin(to * dim, from * dim, (from + 1) * dim);
  rows[from].contentSha256 = sha;
  rows[to].contentSha256 = sha;
}

/** Row `to` becomes a re-encoded or lightly edited copy of row `from`: other hash, embedding close. */
export function plantNearCopy(embeddings: Float32Array, dim: number, from: number, to: number, gauss: () => number, noise = NEAR_COPY_NOISE): void {
  const target = embeddings.subarray(to * dim, (to + 1) * dim);
  const source = embeddings.subarray(from * dim, (from + 1) * dim);
  for (let j = 0; j < dim; j++) target[j] = source[j] + (gauss() * noise) / Math.sqrt(dim);
  normalizeInPlace(target);
}
