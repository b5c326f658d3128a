/**
 * Bytes held at once, bounded: taken as they arrive, given back when let go. What keeps a crowd
 * of large request bodies from growing the server's memory (a request count alone does not:
 * 64 × 60 MB is 4 GB).
 */
export interface ByteBudget {
  readonly limit: number;
  readonly used: number;
  readonly free: number;
  /** The most ever held at once (never above limit). */
  readonly peak: number;
  /** Takes n bytes if they fit; false (and nothing taken) if not. */
  take(n: number): boolean;
  give(n: number): void;
}

export function makeByteBudget(limit: number): ByteBudget {
  let used = 0;
  let peak = 0;
  return {
    limit,
    get used() {
      return used;
    },
    get free() {
      return limit - used;
    },
    get peak() {
      return peak;
    },
    take(n) {
      if (used + n > limit) return false;
      used += n;
      peak = Math.max(peak, used);
      return true;
    },
    give(n) {
      used = Math.max(0, used - n);
    },
  };
}
