/**
 * Figures you can believe on a shared, noisy machine: every compared path is measured in windows
 * of at least `seconds`, repeated `repeats` times, the paths alternating (A B C A B C …) so that a
 * burst of load from elsewhere hits all of them, and reported as min and median of the windows.
 */
import { readFileSync } from 'node:fs';

export interface WindowOptions {
  /** Each window repeats its path until this many seconds have passed (at least one pass). */
  seconds: number;
  /** Windows per path, alternating between paths. */
  repeats: number;
}

export interface WindowedRate {
  /** Items per second of each window, in the order measured. */
  windows: number[];
  min: number;
  median: number;
  max: number;
  items: number;
  seconds: number;
}

/** One pass over a path: does the work, returns how many items it handled. */
export type Pass = () => Promise<number>;

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function summarize(windows: number[], items: number, seconds: number): WindowedRate {
  return { windows: windows.map((w) => round(w)), min: round(Math.min(...windows)), median: round(median(windows)), max: round(Math.max(...windows)), items, seconds: round(seconds, 2) };
}

export async function windowOf(pass: Pass, seconds: number): Promise<{ rate: number; items: number; seconds: number }> {
  let items = 0;
  const t0 = performance.now();
  do items += await pass();
  while (performance.now() - t0 < seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  return { rate: items / elapsed, items, seconds: elapsed };
}

/** Measures every path `repeats` times in alternation; `onWindow` sees each window as it ends. */
export async function alternatingWindows<K extends string>(
  paths: Record<K, Pass>,
  o: WindowOptions,
  onWindow?: (name: K, rate: number) => void,
): Promise<Record<K, WindowedRate>> {
  const names = Object.keys(paths) as K[];
  const rates = new Map<K, { windows: number[]; items: number; seconds: number }>(names.map((n) => [n, { windows: [], items: 0, seconds: 0 }]));
  for (let r = 0; r < Math.max(1, o.repeats); r++) {
    for (const name of names) {
      const w = await windowOf(paths[name], o.seconds);
      const acc = rates.get(name)!;
      acc.windows.push(w.rate);
      acc.items += w.items;
      acc.seconds += w.seconds;
      onWindow?.(name, w.rate);
    }
  }
  return Object.fromEntries(names.map((n) => [n, summarize(rates.get(n)!.windows, rates.get(n)!.items, rates.get(n)!.seconds)])) as Record<K, WindowedRate>;
}

/**
 * A ratio of two windowed rates (medians), flagged when it is above `ceiling` although it cannot
 * be (e.g. a pipeline faster than its own decoding): that is noise, not a result.
 */
export function ratioOf(a: WindowedRate, b: WindowedRate, ceiling?: number): { median: number; min_over_min: number; noise?: string } {
  const value = Math.round((a.median / b.median) * 1000) / 1000;
  return {
    median: value,
    min_over_min: Math.round((a.min / b.min) * 1000) / 1000,
    ...(ceiling !== undefined && value > ceiling ? { noise: `above ${ceiling}, which it cannot be: the windows were disturbed (shared machine); re-run` } : {}),
  };
}

/**
 * CPU time one thread of this process has used, in ms, from /proc/self/task/<tid>/schedstat
 * (nanoseconds) or, where that is missing, /proc/self/task/<tid>/stat (utime + stime, clock
 * ticks of 10 ms). The main thread's tid is the process id. Linux only: undefined elsewhere.
 */
export function threadCpuMs(tid = process.pid): number | undefined {
  try {
    const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    if (Number.isFinite(ns)) return ns / 1e6;
  } catch {
    // fall through to stat
  }
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}
