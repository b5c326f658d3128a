/** "Did you mean": the taxonomy's tags nearest to a misspelt one, by edit distance. */

/** Levenshtein distance (insert, delete, substitute: cost 1 each). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * Up to `count` known tags closest to `tag`, closest first. A tag containing the query (or
 * contained in it) counts as close: "pool" finds "outdoor-pool" and "indoor-pool".
 */
export function closestTags(tag: string, known: readonly string[], count = 3): string[] {
  const query = tag.trim().toLowerCase().replace(/[\s_]+/g, '-');
  const distance = (candidate: string) =>
    candidate.includes(query) || query.includes(candidate) ? Math.abs(candidate.length - query.length) / 100 : editDistance(query, candidate);
  return [...known]
    .map((candidate, order) => ({ candidate, order, d: distance(candidate) }))
    .sort((x, y) => x.d - y.d || x.order - y.order)
    .slice(0, count)
    .map((x) => x.candidate);
}

/** Tags not in the taxonomy, each with its closest known ones; empty when all are known. */
export function unknownTags(tags: readonly string[], known: readonly string[]): { tag: string; closest: string[] }[] {
  const set = new Set(known);
  return tags.filter((t) => !set.has(t)).map((tag) => ({ tag, closest: closestTags(tag, known) }));
}
