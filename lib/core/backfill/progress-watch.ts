/**
 * Progress of a running backfill, read from what the workers write: each part's marker
 * (part-NNNNN.json, written as soon as the part is done) and each shard's summary.json. Polling
 * files works the same for local folders and S3, and needs nothing from the workers.
 */
import { mapWithConcurrency } from '../io/concurrency';
import { exists, joinUri, listNames, readJson } from '../io/location';
import type { PartMarker, ShardSummary } from '../pipeline/shard-output';
import { runLayout, SUMMARY_FILE } from './layout';

export interface RunProgress {
  /** Known once the shard step is done. */
  shardCount?: number;
  entries?: number;
  shardsDone: number;
  processed: number;
  succeeded: number;
  failed: number;
}

interface ShardState {
  done: boolean;
  parts: Map<string, { input: number; succeeded: number; failed: number }>;
}

export interface ProgressWatcher {
  /** One more poll, then stop. */
  stop(): Promise<RunProgress>;
}

export function watchRunProgress(options: {
  workUri: string;
  runId: string;
  onUpdate: (progress: RunProgress) => void;
  intervalMs?: number;
}): ProgressWatcher {
  const layout = runLayout(options.workUri, options.runId);
  const shards: ShardState[] = [];
  let plan: { shardCount: number; entries: number } | undefined;

  const pollShard = async (index: number): Promise<void> => {
    const state = shards[index];
    const names = await listNames(layout.shardResultsUri(index));
    if (names.includes(SUMMARY_FILE)) {
      const summary = await readJson<ShardSummary>(layout.shardSummaryUri(index));
      state.parts = new Map([['all', { input: summary.input, succeeded: summary.succeeded, failed: summary.failed }]]);
      state.done = true;
      return;
    }
    for (const name of names) {
      if (!/^part-\d+\.json$/.test(name) || state.parts.has(name)) continue;
      const marker = await readJson<PartMarker>(joinUri(layout.shardResultsUri(index), name));
      state.parts.set(name, { input: marker.input, succeeded: marker.succeeded, failed: marker.failed });
    }
  };

  const snapshot = (): RunProgress => {
    const progress: RunProgress = { ...(plan ?? {}), shardsDone: 0, processed: 0, succeeded: 0, failed: 0 };
    for (const shard of shards) {
      if (shard.done) progress.shardsDone++;
      for (const part of shard.parts.values()) {
        progress.processed += part.input;
        progress.succeeded += part.succeeded;
        progress.failed += part.failed;
      }
    }
    return progress;
  };

  const poll = async (): Promise<void> => {
    if (!plan) {
      if (!(await exists(layout.shardManifestUri))) return;
      plan = await readJson<{ shardCount: number; entries: number }>(layout.shardManifestUri);
      for (let i = 0; i < plan.shardCount; i++) shards.push({ done: false, parts: new Map() });
    }
    const pending = shards.flatMap((s, i) => (s.done ? [] : [i]));
    await mapWithConcurrency(pending, 16, pollShard);
    options.onUpdate(snapshot());
  };

  let stopped = false;
  let current: Promise<void> = Promise.resolve();
  const tick = () => {
    current = poll()
      .catch(() => undefined) // a file caught between writes: next poll
      .then(() => {
        if (!stopped) timer = setTimeout(tick, options.intervalMs ?? 1000);
      });
  };
  let timer: NodeJS.Timeout = setTimeout(tick, 0);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
      await poll().catch(() => undefined);
      return snapshot();
    },
  };
}
