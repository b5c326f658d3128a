/**
 * Progress for long work: a live bar when a person watches a terminal, otherwise a JSON log
 * line every `intervalMs` (containers, CI), so a stuck worker is visible either way.
 */
import { SingleBar, Presets } from 'cli-progress';
import type { Logger } from '../core/log';

export interface ProgressState {
  done: number;
  total?: number;
  /** Extra counters shown beside the bar and logged (succeeded, failed…). */
  counters?: Record<string, number>;
}

export interface ProgressDisplay {
  update(state: ProgressState): void;
  stop(): void;
}

export function makeProgress(label: string, logger: Logger, options: { tty?: boolean; intervalMs?: number } = {}): ProgressDisplay {
  const tty = options.tty ?? Boolean(process.stderr.isTTY);
  const started = Date.now();
  const rate = (done: number) => {
    const seconds = (Date.now() - started) / 1000;
    return seconds > 0 ? Math.round((done / seconds) * 10) / 10 : 0;
  };
  const formatCounters = (counters: Record<string, number> = {}) =>
    Object.entries(counters).map(([k, v]) => `${k} ${v}`).join(' | ');

  if (tty) {
    const bar = new SingleBar(
      { format: `${label} [{bar}] {value}/{total} | {rate}/s | {counters} | eta {eta_formatted}`, hideCursor: true, stream: process.stderr, etaBuffer: 200 },
      Presets.shades_classic,
    );
    let started = false;
    return {
      update(state) {
        const payload = { rate: rate(state.done), counters: formatCounters(state.counters) };
        if (!started) {
          bar.start(state.total ?? 0, state.done, payload);
          started = true;
        }
        if (state.total !== undefined) bar.setTotal(state.total);
        bar.update(state.done, payload);
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }

  const intervalMs = options.intervalMs ?? 10_000;
  let last: ProgressState = { done: 0 };
  let lastLogged = -1;
  const emit = () => {
    if (last.done === lastLogged) return;
    lastLogged = last.done;
    logger.info(`${label} progress`, { done: last.done, total: last.total, per_second: rate(last.done), ...last.counters });
  };
  const timer = setInterval(emit, intervalMs);
  timer.unref();
  return {
    update(state) {
      last = state;
    },
    stop() {
      clearInterval(timer);
      emit();
    },
  };
}
