/**
 * AIMD concurrency (additive increase, multiplicative decrease), as TCP does for congestion:
 * each success raises the limit by 1/limit (about +1 per round of requests), each throttle
 * halves it, at most once per cool-down so that one burst of SlowDowns from requests already
 * in flight counts as one signal. Waiting for a slot is outside any per-attempt timeout: a
 * throttled worker slows down instead of timing its images out.
 */
export interface AdaptiveConcurrencyOptions {
  /** The ceiling (and the starting point). */
  max: number;
  /** @default 1 */
  min?: number;
  /** @default 0.5 */
  decreaseFactor?: number;
  /** Minimum time between two decreases. @default 250 */
  cooldownMs?: number;
}

export interface AdaptiveConcurrencyStats {
  limit: number;
  lowestLimit: number;
  throttles: number;
  decreases: number;
}

export class AdaptiveConcurrency {
  private current: number;
  private inFlight = 0;
  private lastDecrease = -Infinity;
  private readonly waiting: (() => void)[] = [];
  private readonly min: number;
  private readonly factor: number;
  private readonly cooldownMs: number;
  private readonly counters = { lowestLimit: Infinity, throttles: 0, decreases: 0 };

  constructor(private readonly options: AdaptiveConcurrencyOptions) {
    if (!Number.isInteger(options.max) || options.max < 1) throw new RangeError(`max must be a positive integer, got ${options.max}`);
    this.current = options.max;
    this.min = Math.min(options.max, options.min ?? 1);
    this.factor = options.decreaseFactor ?? 0.5;
    this.cooldownMs = options.cooldownMs ?? 250;
    this.counters.lowestLimit = options.max;
  }

  /** The number of operations allowed at once now. */
  get limit(): number {
    return Math.max(this.min, Math.floor(this.current));
  }

  stats(): AdaptiveConcurrencyStats {
    return { limit: this.limit, ...this.counters };
  }

  /** Runs `op` in a slot; `isThrottle` tells which failures mean "slow down". */
  async run<T>(op: () => Promise<T>, isThrottle: (err: unknown) => boolean): Promise<T> {
    await this.acquire();
    try {
      const value = await op();
      this.current = Math.min(this.options.max, this.current + 1 / this.current);
      return value;
    } catch (err) {
      if (isThrottle(err)) this.onThrottle();
      throw err;
    } finally {
      this.inFlight--;
      this.admit();
    }
  }

  private onThrottle(): void {
    this.counters.throttles++;
    const now = performance.now();
    if (now - this.lastDecrease < this.cooldownMs) return;
    this.lastDecrease = now;
    this.current = Math.max(this.min, this.current * this.factor);
    this.counters.decreases++;
    this.counters.lowestLimit = Math.min(this.counters.lowestLimit, this.limit);
  }

  private async acquire(): Promise<void> {
    if (this.inFlight < this.limit && this.waiting.length === 0) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private admit(): void {
    while (this.waiting.length > 0 && this.inFlight < this.limit) {
      this.inFlight++;
      this.waiting.shift()!();
    }
  }
}
