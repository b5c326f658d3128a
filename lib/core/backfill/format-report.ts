/** The run report as a person reads it in a terminal. */
import type { RunReport } from './report';

const MAX_SHARD_LINES = 30;

export interface FormatOptions {
  /**
   * Seconds the whole local command took, set-up included (the local runner synthesizes the state
   * machine before the execution starts, which the execution's own duration does not count).
   */
  wallSeconds?: number;
}

export function formatRunReport(report: RunReport, reportUri: string, options: FormatOptions = {}): string {
  const t = report.totals;
  const lines: string[] = [];
  const took = formatDuration(report.durationSeconds, options.wallSeconds);
  lines.push(`Backfill ${report.runId}: ${report.ok ? 'SUCCEEDED' : 'FAILED'}${took}`);

  const m = report.manifest;
  if (m) {
    const problems = [`${m.blankLines} blank`, `${m.invalid.count} invalid`, `${m.duplicates.count} duplicates`].join(', ');
    lines.push(`  manifest   ${m.lines} lines → ${m.entries} entries (${problems}) in ${m.shardCount} shards of ${m.shardSize}`);
    for (const ex of m.invalid.examples) lines.push(`             invalid line ${ex.line}: ${ex.reason}: ${ex.text}`);
    const listed = m.invalidLinesUris ?? [];
    if (listed.length > 0) lines.push(`             every invalid line, with its reason: ${listed[0]}${listed.length > 1 ? ` and ${listed.length - 1} more file(s) beside it` : ''}`);
    for (const ex of m.duplicates.examples) lines.push(`             duplicate line ${ex.line}: ${ex.uri} (image id ${ex.imageId})`);
  }
  const codes = Object.entries(t.failedByCode).sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${n}`).join(', ');
  lines.push(`  images     ${t.input} processed: ${t.succeeded} enriched, ${t.failed} failed${codes ? ` (${codes})` : ''}`);
  if (t.retriedAtEnd > 0) {
    lines.push(`             ${t.recovered} recovered by the end-of-shard retry (of ${t.retriedAtEnd} tried again after transient fetch failures)`);
  }
  if (t.notProcessed > 0) lines.push(`             ${t.notProcessed} not processed (their shards failed)`);
  lines.push(`  loaded     ${t.loadedRows} images into LanceDB${t.failureRowsLoaded ? ` (+ ${t.failureRowsLoaded} failure records)` : ''}`);
  if (report.embed.imagesPerSecond !== undefined) {
    lines.push(`  speed      ${report.embed.imagesPerSecond} images/s over ${report.embed.wallSeconds?.toFixed(1)} s of embedding (first shard's start to last shard's end)`);
    const rates = report.shards.flatMap((s) => (s.imagesPerSecond !== undefined && s.input > 0 ? [s.imagesPerSecond] : []));
    if (rates.length > 0) {
      const range = Math.min(...rates) === Math.max(...rates) ? `${rates[0]}` : `${Math.min(...rates)}–${Math.max(...rates)}`;
      lines.push(`             each shard alone: ${range} images/s while it ran (the figure above also counts worker start-up, waits for a free worker, and shards running side by side)`);
    }
  }
  if (report.indexError) lines.push(`  index      FAILED: ${report.indexError}`);
  else if (report.index !== undefined) lines.push(`  index      ${summarize(report.index)}`);
  if (report.loadError) lines.push(`  load       FAILED: ${report.loadError}`);

  lines.push(`  shards     ${report.shardCounts.complete}/${report.shardCounts.total} complete`);
  for (const s of report.shards.slice(0, MAX_SHARD_LINES)) {
    const speed = s.imagesPerSecond !== undefined ? `${s.imagesPerSecond} img/s` : '';
    const seconds = s.embedSeconds !== undefined ? `${s.embedSeconds.toFixed(1)} s` : '';
    lines.push(
      `    ${s.shard}  ${s.status.padEnd(12)} ${pad(s.input)} in ${pad(s.succeeded)} ok ${pad(s.failed)} failed ${pad(s.loadedRows)} loaded  ${seconds.padStart(7)} ${speed}`.trimEnd(),
    );
  }
  if (report.shards.length > MAX_SHARD_LINES) lines.push(`    … ${report.shards.length - MAX_SHARD_LINES} more in the report file`);
  if (report.failedShards.length > 0) {
    lines.push('  failed shards');
    for (const f of report.failedShards.slice(0, MAX_SHARD_LINES)) lines.push(`    ${f.shard}  ${f.status}: ${f.error ?? 'unknown'}`);
  }
  lines.push(`  report     ${reportUri}`);
  return lines.join('\n');
}

function pad(n: number): string {
  return String(n).padStart(6);
}

/** The index step's result in one line: the store's report (rows, what happened to each index), or the Batch job that built them. */
function summarize(value: unknown): string {
  const step = value as { handedOff?: boolean; rows?: number; report?: unknown; reason?: string; batchJob?: { jobId?: string; status?: string } };
  if (step?.handedOff) return `${step.reason ?? `${step.rows} rows`} (job ${step.batchJob?.jobId ?? '?'}: ${step.batchJob?.status ?? 'not run'})`;
  const report = (step?.report ?? value) as { rows?: number; indexes?: { table: string; column: string; type: string; action: string }[] };
  if (typeof report?.rows === 'number' && Array.isArray(report.indexes)) {
    return `${report.rows} rows; ${report.indexes.map((i) => `${i.table}.${i.column} ${i.type} ${i.action}`).join(', ')}`;
  }
  const text = JSON.stringify(value) ?? '';
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** "in 12.7 s (state machine 4.0 s, local set-up 8.7 s)", or the execution's duration alone. */
function formatDuration(executionSeconds: number | undefined, wallSeconds: number | undefined): string {
  if (wallSeconds === undefined) return executionSeconds !== undefined ? ` in ${executionSeconds.toFixed(1)} s` : '';
  if (executionSeconds === undefined || executionSeconds > wallSeconds) return ` in ${wallSeconds.toFixed(1)} s`;
  return ` in ${wallSeconds.toFixed(1)} s (state machine ${executionSeconds.toFixed(1)} s, local set-up ${(wallSeconds - executionSeconds).toFixed(1)} s)`;
}
