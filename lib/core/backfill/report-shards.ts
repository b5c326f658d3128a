/**
 * One line of the run report per shard, from what the run left behind: the worker's
 * summary.json (missing = the shard was not embedded) and the load step's outcome file.
 */
import { mapWithConcurrency } from '../io/concurrency';
import { exists, readJson } from '../io/location';
import type { ShardSummary } from '../pipeline/shard-output';
import type { FailedChild } from './batch-children';
import { runLayout, shardId } from './layout';
import { readLoadOutcome } from './load-step';

export type ShardStatus = 'complete' | 'embed-failed' | 'load-failed';

export interface ShardReport {
  shard: string;
  status: ShardStatus;
  /** Entries in the shard file (known from the sharding even when the worker failed). */
  entries: number;
  input: number;
  succeeded: number;
  failed: number;
  failedByCode: Record<string, number>;
  /** Images that failed for a transient reason and were tried again at the end of the shard, and of them those that succeeded (summary.json `end_retry`). */
  retriedAtEnd: number;
  recovered: number;
  loadedRows: number;
  failureRowsLoaded: number;
  embedSeconds?: number;
  imagesPerSecond?: number;
  loadSeconds?: number;
  startedAt?: string;
  finishedAt?: string;
  /** Why the shard failed. */
  error?: string;
}

export interface ShardReportInput {
  workUri: string;
  runId: string;
  shardCount: number;
  shardSize: number;
  entries: number;
  /** Entries of each shard (shards/_manifest.json); without it (older runs) every shard but the last is taken as full. */
  shardEntries?: number[];
  concurrency: number;
  failedChildren: FailedChild[];
  /** Why the Batch step failed, for shards without a more precise reason. */
  embedFailure?: string;
}

export async function collectShardReports(input: ShardReportInput): Promise<ShardReport[]> {
  const layout = runLayout(input.workUri, input.runId);
  const children = new Map(input.failedChildren.map((c) => [c.index, c]));
  const indexes = Array.from({ length: input.shardCount }, (_, i) => i);

  return mapWithConcurrency(indexes, input.concurrency, async (index): Promise<ShardReport> => {
    const entries = input.shardEntries?.[index] ?? Math.max(0, Math.min(input.shardSize, input.entries - index * input.shardSize));
    const summaryUri = layout.shardSummaryUri(index);
    const [summary, load] = await Promise.all([
      (await exists(summaryUri)) ? readJson<ShardSummary>(summaryUri) : undefined,
      readLoadOutcome(input.workUri, input.runId, index),
    ]);
    const base: ShardReport = {
      shard: shardId(index),
      status: 'complete',
      entries,
      input: summary?.input ?? 0,
      succeeded: summary?.succeeded ?? 0,
      failed: summary?.failed ?? 0,
      failedByCode: summary?.failed_by_code ?? {},
      retriedAtEnd: summary?.end_retry?.retried ?? 0,
      recovered: summary?.end_retry?.recovered ?? 0,
      loadedRows: load?.loadedRows ?? 0,
      failureRowsLoaded: load?.failedRows ?? 0,
      ...(summary ? embedTimings(summary) : {}),
      ...(load?.status === 'loaded' ? { loadSeconds: load.durationMs / 1000 } : {}),
    };
    if (!summary) {
      const child = children.get(index);
      const reason = child
        ? `worker failed${child.exitCode !== undefined ? ` (exit code ${child.exitCode})` : ''}: ${child.reason}${child.logs ? ` [logs: ${child.logs}]` : ''}`
        : `no summary.json: the worker did not finish${input.embedFailure ? ` (${input.embedFailure})` : ''}`;
      return { ...base, status: 'embed-failed', error: reason };
    }
    if (!load) return { ...base, status: 'load-failed', error: 'the load step left no outcome for this shard' };
    if (load.status === 'failed') return { ...base, status: 'load-failed', error: `${load.error?.error}: ${load.error?.cause}` };
    if (load.status === 'not-embedded') {
      // The worker finished after the load step looked (the Batch step failed early for another child).
      return { ...base, status: 'load-failed', error: 'summary.json appeared after the load step ran: re-run to load it' };
    }
    // The counts must close: what was planned was read, what succeeded was loaded.
    if (input.shardEntries && summary.input !== entries) {
      return { ...base, status: 'embed-failed', error: `the worker read ${summary.input} entries of the ${entries} planned for this shard` };
    }
    if (load.loadedRows !== summary.succeeded || load.failedRows !== summary.failed) {
      return { ...base, status: 'load-failed', error: `loaded ${load.loadedRows} rows and ${load.failedRows} failures for ${summary.succeeded} and ${summary.failed} in summary.json` };
    }
    return base;
  });
}

function embedTimings(summary: ShardSummary): Partial<ShardReport> {
  const seconds = (Date.parse(summary.finished_at) - Date.parse(summary.started_at)) / 1000;
  return {
    startedAt: summary.started_at,
    finishedAt: summary.finished_at,
    embedSeconds: Number.isFinite(seconds) ? seconds : undefined,
    imagesPerSecond: summary.images_per_second,
  };
}
