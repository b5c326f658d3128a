/** The printed report's timing: what a person reads must agree with what happened. */
import { formatRunReport } from '../../lib/core/backfill/format-report';
import type { RunReport } from '../../lib/core/backfill/report';
import type { ShardReport } from '../../lib/core/backfill/report-shards';

function shard(name: string, input: number, startS: number, seconds: number): ShardReport {
  const t0 = Date.UTC(2026, 0, 1);
  return {
    shard: name, status: 'complete', entries: input, input, succeeded: input, failed: 0, failedByCode: {}, loadedRows: input, failureRowsLoaded: 0,
    embedSeconds: seconds, imagesPerSecond: Math.round((input / seconds) * 10) / 10,
    startedAt: new Date(t0 + startS * 1000).toISOString(), finishedAt: new Date(t0 + (startS + seconds) * 1000).toISOString(),
  };
}

// The reported case: shards at 120–150 images/s, started one after another as worker processes came up.
const shards = [shard('shard-00000', 60, 2, 0.5), shard('shard-00001', 60, 5, 0.4), shard('shard-00002', 60, 8, 0.45), shard('shard-00003', 60, 11, 0.5)];
const report: RunReport = {
  runId: 'run-1', ok: true, finishedAt: '2026-01-01T00:00:12Z', durationSeconds: 4.0,
  embed: { waves: [{ wave: 0, firstShard: 0, shardCount: 4 }], failedChildren: [], wallSeconds: 9.5, imagesPerSecond: 25.3 },
  totals: { entries: 240, input: 240, succeeded: 240, failed: 0, failedByCode: {}, loadedRows: 240, failureRowsLoaded: 0, notProcessed: 0 },
  shardCounts: { total: 4, complete: 4, failed: 0 }, failedShards: [], shards,
};

describe('formatRunReport timing', () => {
  it('gives the whole local run its full time, with the set-up the execution does not count', () => {
    const text = formatRunReport(report, 'report.json', { wallSeconds: 12.7 });
    expect(text).toContain('Backfill run-1: SUCCEEDED in 12.7 s (state machine 4.0 s, local set-up 8.7 s)');
  });

  it('keeps the execution time alone when the whole run time is unknown (the deployed report)', () => {
    expect(formatRunReport(report, 'report.json')).toContain('SUCCEEDED in 4.0 s\n');
  });

  it('says what the run-wide speed covers and shows the shards\' own speed beside it', () => {
    const text = formatRunReport(report, 'report.json');
    expect(text).toContain('25.3 images/s over 9.5 s of embedding (first shard\'s start to last shard\'s end)');
    expect(text).toContain('each shard alone: 120–150 images/s while it ran');
  });
});
