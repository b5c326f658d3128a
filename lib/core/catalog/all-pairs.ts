/**
 * Every pair of unit vectors with cosine ≥ threshold, by brute force over packed float32 rows:
 * n²/2 dot products, in blocks so that a block of rows stays in cache. The exhaustive fallback of
 * `findDupes` for small stores without a vector index, and the ground truth of its recall benchmark.
 */
export function allPairsAbove(values: Float32Array, rows: number, dim: number, threshold: number, onPair: (a: number, b: number, similarity: number) => void): void {
  const BLOCK = 256;
  for (let a0 = 0; a0 < rows; a0 += BLOCK) {
    const a1 = Math.min(rows, a0 + BLOCK);
    for (let b0 = a0; b0 < rows; b0 += BLOCK) {
      const b1 = Math.min(rows, b0 + BLOCK);
      for (let a = a0; a < a1; a++) {
        const ao = a * dim;
        for (let b = Math.max(b0, a + 1); b < b1; b++) {
          const bo = b * dim;
          let dot = 0;
          for (let j = 0; j < dim; j++) dot += values[ao + j] * values[bo + j];
          if (dot >= threshold) onPair(a, b, dot);
        }
      }
    }
  }
}
