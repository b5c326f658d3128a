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

export interface PlantRates {
  /** Share of rows rewritten as a near copy of an earlier row of their part. @default 0.01 */
  near?: number;
  /** Share of rows rewritten as an exact copy. @default 0.005 */
  exact?: number;
}

/**
 * An onPart hook that plants duplicates at the given rates; half of the copies move to the
 * source's hotel (a hotel that uploaded a photo twice), the rest keep their own (another hotel
 * using the same photo). Returns the hook and a counter of planted rows.
 */
export function duplicatePlanter(random: () => number, gauss: () => number, dim: number, rates: PlantRates = {}) {
  const near = rates.near ?? 0.01;
  const exact = rates.exact ?? 0.005;
  const planted = { near: 0, exact: 0 };
  const onPart = (embeddings: Float32Array, rows: SyntheticRow[]) => {
    for (let i = 1; i < rows.length; i++) {
      const roll = random();
      if (roll >= near + exact) continue;
      const from = Math.floor(random() * i);
      if (roll < exact) {
        plantExactCopy(embeddings, rows, dim, from, i, rows[from].contentSha256 ?? `planted-${rows[from].imageId}`);
        planted.exact++;
      } else {
        plantNearCopy(embeddings, dim, from, i, gauss);
        planted.near++;
      }
      if (random() < 0.5) rows[i].hotelId = rows[from].hotelId;
    }
  };
  return { onPart, planted };
}
