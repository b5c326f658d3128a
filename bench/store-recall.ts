/** Recall and latency arithmetic for the store benchmark. */

/** Exact top-k by cosine over float32 vectors, fed part by part (vectors and queries are unit length). */
export class ExactTopK {
  private readonly packed: Float32Array;
  private readonly best: { score: number; id: string }[][];

  constructor(
    private readonly queries: Float32Array[],
    private readonly k: number,
  ) {
    const dim = queries[0]?.length ?? 0;
    this.packed = new Float32Array(queries.length * dim);
    queries.forEach((q, i) => this.packed.set(q, i * dim));
    this.best = queries.map(() => []);
  }

  add(embeddings: Float32Array, ids: string[]): void {
    const dim = this.queries[0]?.length ?? 0;
    const { packed, best, k } = this;
    for (let r = 0; r < ids.length; r++) {
      const offset = r * dim;
      for (let q = 0; q < this.queries.length; q++) {
        let dot = 0;
        const qo = q * dim;
        for (let j = 0; j < dim; j++) dot += embeddings[offset + j] * packed[qo + j];
        const list = best[q];
        if (list.length < k || dot > list[list.length - 1].score) {
          let at = list.length;
          while (at > 0 && list[at - 1].score < dot) at--;
          list.splice(at, 0, { score: dot, id: ids[r] });
          if (list.length > k) list.pop();
        }
      }
    }
  }

  ids(): string[][] {
    return this.best.map((list) => list.map((e) => e.id));
  }
}

/** Mean over queries of |found ∩ truth| / |truth|. */
export function recallAtK(found: string[][], truth: string[][]): number {
  if (truth.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < truth.length; i++) {
    const expected = new Set(truth[i]);
    const hits = found[i].filter((id) => expected.has(id)).length;
    sum += expected.size === 0 ? 1 : hits / expected.size;
  }
  return sum / truth.length;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export interface LatencySummary {
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
}

export function summarize(latenciesMs: number[]): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    p50_ms: round(percentile(sorted, 50)),
    p99_ms: round(percentile(sorted, 99)),
    mean_ms: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
  };
}
