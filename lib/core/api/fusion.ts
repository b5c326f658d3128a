/**
 * Reciprocal rank fusion (Cormack et al., 2009): each ranking gives a document 1 / (K + rank), and
 * documents sort by their sum. Scores of different kinds (cosine, BM25) need no calibration.
 */
export const RRF_K = 60;

export function reciprocalRankFusion<T>(rankings: T[][], idOf: (item: T) => string, k = RRF_K): { item: T; score: number }[] {
  const fused = new Map<string, { item: T; score: number; best: number }>();
  for (const ranking of rankings) {
    ranking.forEach((item, rank) => {
      const id = idOf(item);
      const entry = fused.get(id);
      const add = 1 / (k + rank + 1);
      if (entry) {
        entry.score += add;
        entry.best = Math.min(entry.best, rank);
      } else {
        fused.set(id, { item, score: add, best: rank });
      }
    });
  }
  // Ties (same rank in different lists) keep the better single rank first, then the id: stable pages.
  return [...fused.entries()]
    .sort(([ia, a], [ib, b]) => b.score - a.score || a.best - b.best || (ia < ib ? -1 : ia > ib ? 1 : 0))
    .map(([, { item, score }]) => ({ item, score }));
}
