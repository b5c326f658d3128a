/**
 * "Did you mean": the known tags closest to one that is not in the taxonomy, so that an unknown
 * tag (`--tag pool` where the taxonomy says `swimming-pool`) is an error that names what to use.
 */
import { SystemErrorCode, VistaError } from '../errors';

/** Lower case, ASCII letters and digits, words joined by one hyphen: `Ocean_View` → `ocean-view`. */
export function normalizeTagInput(tag: string): string {
  return tag
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

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
 * The `count` known tags closest to `tag`: a known tag containing it, or contained in it, or
 * sharing a word ranks first (`pool` → `swimming-pool`), then by edit distance of the normalized forms.
 */
export function closestTags(tag: string, known: Iterable<string>, count = 3): string[] {
  const wanted = normalizeTagInput(tag);
  const words = new Set(wanted.split('-').filter(Boolean));
  const scored = [...new Set(known)].map((candidate) => {
    const norm = normalizeTagInput(candidate);
    const related = wanted !== '' && (norm.includes(wanted) || wanted.includes(norm) || norm.split('-').some((w) => words.has(w)));
    const distance = editDistance(wanted, norm) / Math.max(wanted.length, norm.length, 1);
    return { candidate, rank: (related ? 0 : 1) + distance };
  });
  return scored.sort((a, b) => a.rank - b.rank || a.candidate.localeCompare(b.candidate)).slice(0, count).map((s) => s.candidate);
}

/** REQUEST_INVALID naming the unknown tags and, for each, the closest known ones. */
export function checkKnownTags(tags: readonly string[], known: ReadonlySet<string>): void {
  const unknown = [...new Set(tags)].filter((t) => !known.has(t));
  if (unknown.length === 0) return;
  const suggestions = Object.fromEntries(unknown.map((t) => [t, closestTags(t, known)]));
  const message = unknown.map((t) => `unknown tag "${t}" (closest: ${suggestions[t].join(', ') || 'none'})`).join('; ');
  throw new VistaError(SystemErrorCode.REQUEST_INVALID, message, { details: { unknownTags: unknown, closest: suggestions } });
}
