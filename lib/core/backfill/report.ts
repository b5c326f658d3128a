/**
 * The run report: per shard and in total, what went in, what was enriched, what failed and why
 * (per error code), what reached LanceDB, and how fast. Written to `<run>/report.json`; the step
 * returns a compact version that decides whether the execution succeeds, and whose `cause`
 * names the failed shards when it does not.
 */
import { exists, readJson, writeJsonAtomic } from '../io/location';
import type { FailedChild, ListFailedChildren } from './batch-children';
import { describeCause, type ReportEvent } from './events';
import { runLayout } from './layout';
import { collectShardReports, type ShardReport } from './report-shards';
import type { PlanSummary } from './plan-steps';

export interface RunTotals {
  entries: number;
  input: number;
  succeeded: number;
  failed: number;
  failedByCode: Record<string, number>;
  /** Images tried again at the end of their shard after transient failures (summed from the shards' `end_retry`). */
  retriedAtEnd: number;
  /** Of those, the images that succeeded then: counted in `succeeded` too. */
  recovered: number;
  loadedRows: number;
  failureRowsLoaded: number;
  /** Entries of shards that failed: not enriched by this run. */
  notProcessed: number;
}

export interface RunReport {
  runId: string;
  ok: boolean;
  startedAt?: string;
  finishedAt: string;
  durationSeconds?: number;
  /** The plan's summary (shards/_manifest.json), without its per-shard counts (in `shards`). */
  manifest?: Omit<PlanSummary, 'shardEntries'>;
  embed: {
    /** One Batch array job per wave (≤ maxArraySize shards each). */
    waves: { wave: number; firstShard: number; shardCount: number; jobId?: string; status?: string; error?: string }[];
    status?: string;
    error?: string;
    /** Failed children, by shard index (the wave's first shard + the child's array index). */
    failedChildren: FailedChild[];
    wallSeconds?: number;
    imagesPerSecond?: number;
  };
  loadError?: string;
  index?: unknown;
  indexError?: string;
  totals: RunTotals;
  shardCounts: { total: number; complete: number; failed: number };
  failedShards: { shard: string; status: string; error?: string }[];
  shards: ShardReport[];
}

/** What the report step returns into the execution (the full report is in reportUri). */
export interface CompactRunReport {
  ok: boolean;
  runId: string;
  reportUri: string;
  shards: { total: number; complete: number; failed: number };
  images: { entries: number; succeeded: number; failed: number; recovered: number; loaded: number; notProcessed: number };
  /** The first failed shard ids. */
  failedShards: string[];
  /** Why the run failed (the execution's Fail cause); "" when ok. */
  cause: string;
}

export interface ReportDeps {
  listFailedChildren?: ListFailedChildren;
  concurrency?: number;
  now?: () => Date;
}

export async function buildRunReport(event: ReportEvent, deps: ReportDeps = {}): Promise<{ report: RunReport; compact: CompactRunReport }> {
  const { run } = event;
  const layout = runLayout(run.workUri, run.runId);
  const finishedAt = (deps.now ?? (() => new Date()))();
  const planned = (await exists(layout.shardManifestUri)) ? await readJson<PlanSummary>(layout.shardManifestUri) : undefined;
  // The per-shard counts go into each shard's line, not the report's copy of the manifest.
  const { shardEntries, ...manifest }: Partial<PlanSummary> = planned ?? {};

  const outcomes = new Map((run.embed ?? []).map((o) => [o.wave, o]));
  const waves = await Promise.all(
    run.waves.map(async (w) => {
      const outcome = outcomes.get(w.wave);
      const error = outcome?.error ? `${outcome.error.Error}: ${describeCause(outcome.error.Cause)}` : undefined;
      const jobId = outcome?.jobId ?? batchJobIdFromCause(outcome?.error?.Cause);
      const children = error && jobId && deps.listFailedChildren ? await deps.listFailedChildren(jobId) : [];
      return {
        wave: { wave: w.wave, firstShard: w.firstShard, shardCount: w.shardCount, jobId, status: outcome?.status ?? (error ? 'FAILED' : outcome ? undefined : 'NOT RUN'), ...(error ? { error } : {}) },
        children: children.map((c) => ({ ...c, index: w.firstShard + c.index })),
      };
    }),
  );
  const mapError = run.embedError ? `${run.embedError.Error}: ${describeCause(run.embedError.Cause)}` : undefined;
  const waveErrors = waves.filter((w) => w.wave.error).map((w) => `wave ${w.wave.wave}: ${w.wave.error}`);
  const embedError = [mapError, ...waveErrors].filter(Boolean).join('; ') || undefined;
  const failedChildren = waves.flatMap((w) => w.children);

  const shards = await collectShardReports({
    workUri: run.workUri,
    runId: run.runId,
    shardCount: run.shardCount,
    shardSize: run.shardSize,
    entries: run.entries,
    ...(shardEntries ? { shardEntries } : {}),
    concurrency: deps.concurrency ?? 32,
    failedChildren,
    embedFailure: embedError,
  });
  const totals = sumShards(shards);
  const failedShards = shards.filter((s) => s.status !== 'complete').map((s) => ({ shard: s.shard, status: s.status, error: s.error }));
  const indexError = run.indexError ? `${run.indexError.Error}: ${describeCause(run.indexError.Cause)}` : undefined;
  const loadError = run.loadError ? `${run.loadError.Error}: ${describeCause(run.loadError.Cause)}` : undefined;

  const report: RunReport = {
    runId: run.runId,
    ok: failedShards.length === 0 && !indexError && !loadError,
    ...(event.startedAt ? { startedAt: event.startedAt, durationSeconds: (finishedAt.getTime() - Date.parse(event.startedAt)) / 1000 } : {}),
    finishedAt: finishedAt.toISOString(),
    ...(planned ? { manifest: manifest as Omit<PlanSummary, 'shardEntries'> } : {}),
    embed: {
      waves: waves.map((w) => w.wave),
      status: embedError ? 'FAILED' : 'SUCCEEDED',
      ...(embedError ? { error: embedError } : {}),
      failedChildren,
      ...embedThroughput(shards, totals),
    },
    ...(loadError ? { loadError } : {}),
    ...(run.index ? { index: { ...(run.index.result as object), ...(run.indexJob ? { batchJob: run.indexJob } : {}) } } : {}),
    ...(indexError ? { indexError } : {}),
    totals,
    shardCounts: { total: shards.length, complete: shards.length - failedShards.length, failed: failedShards.length },
    failedShards,
    shards,
  };
  await writeJsonAtomic(layout.reportUri, report);

  return {
    report,
    compact: {
      ok: report.ok,
      runId: run.runId,
      reportUri: layout.reportUri,
      shards: report.shardCounts,
      images: { entries: totals.entries, succeeded: totals.succeeded, failed: totals.failed, recovered: totals.recovered, loaded: totals.loadedRows, notProcessed: totals.notProcessed },
      failedShards: failedShards.slice(0, 20).map((s) => s.shard),
      cause: failureCause(report),
    },
  };
}

function sumShards(shards: ShardReport[]): RunTotals {
  const totals: RunTotals = { entries: 0, input: 0, succeeded: 0, failed: 0, failedByCode: {}, retriedAtEnd: 0, recovered: 0, loadedRows: 0, failureRowsLoaded: 0, notProcessed: 0 };
  for (const s of shards) {
    totals.retriedAtEnd += s.retriedAtEnd;
    totals.recovered += s.recovered;
    totals.entries += s.entries;
    totals.input += s.input;
    totals.succeeded += s.succeeded;
    totals.failed += s.failed;
    totals.loadedRows += s.loadedRows;
    totals.failureRowsLoaded += s.failureRowsLoaded;
    if (s.status === 'embed-failed') totals.notProcessed += s.entries;
    for (const [code, count] of Object.entries(s.failedByCode)) totals.failedByCode[code] = (totals.failedByCode[code] ?? 0) + count;
  }
  return totals;
}

/** Images per second of the whole array: first worker start to last worker finish. */
function embedThroughput(shards: ShardReport[], totals: RunTotals): { wallSeconds?: number; imagesPerSecond?: number } {
  const starts = shards.flatMap((s) => (s.startedAt ? [Date.parse(s.startedAt)] : []));
  const ends = shards.flatMap((s) => (s.finishedAt ? [Date.parse(s.finishedAt)] : []));
  if (starts.length === 0 || ends.length === 0) return {};
  const wallSeconds = (Math.max(...ends) - Math.min(...starts)) / 1000;
  return { wallSeconds, imagesPerSecond: wallSeconds > 0 ? Math.round((totals.input / wallSeconds) * 10) / 10 : undefined };
}

/** Step Functions caps a Fail cause at 32,768 characters; a person needs far less. */
const MAX_CAUSE = 4000;

function failureCause(report: RunReport): string {
  if (report.ok) return '';
  const parts: string[] = [];
  if (report.failedShards.length > 0) {
    const listed = report.failedShards.slice(0, 10).map((s) => `${s.shard} (${s.status}: ${s.error ?? 'unknown'})`);
    const more = report.failedShards.length > 10 ? `; and ${report.failedShards.length - 10} more` : '';
    parts.push(`${report.failedShards.length} of ${report.shards.length} shards failed: ${listed.join('; ')}${more}`);
  }
  if (report.loadError) parts.push(`load step failed: ${report.loadError}`);
  if (report.indexError) parts.push(`index build failed: ${report.indexError}`);
  const cause = parts.join('. ');
  return cause.length > MAX_CAUSE ? `${cause.slice(0, MAX_CAUSE)}…` : cause;
}

/** A wave's Cause is the DescribeJobs description of its array job. */
function batchJobIdFromCause(cause: string | null | undefined): string | undefined {
  if (!cause) return undefined;
  try {
    const job = JSON.parse(cause) as { JobId?: string };
    return typeof job.JobId === 'string' ? job.JobId : undefined;
  } catch {
    return undefined;
  }
}
