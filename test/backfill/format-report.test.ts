/** The printed report's timing: what a person reads must agree with what happened. */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ReportEvent } from '../../lib/core/backfill/events';
import { readBackfillConfig } from '../../lib/core/backfill/config';
import { writeInventory } from '../../lib/core/backfill/demo/inventory';
import { formatRunReport } from '../../lib/core/backfill/format-report';
import { finishRunPlan, startPlan } from '../../lib/core/backfill/plan-run';
import { splitInput } from '../../lib/core/backfill/plan-steps';
import { runLayout } from '../../lib/core/backfill/layout';
import { buildRunReport, type RunReport } from '../../lib/core/backfill/report';
import { writeJsonAtomic } from '../../lib/core/io/location';
import type { ShardReport } from '../../lib/core/backfill/report-shards';

function shard(name: string, input: number, startS: number, seconds: number): ShardReport {
  const t0 = Date.UTC(2026, 0, 1);
  return {
    shard: name, status: 'complete', entries: input, input, succeeded: input, failed: 0, failedByCode: {}, retriedAtEnd: 0, recovered: 0, loadedRows: input, failureRowsLoaded: 0,
    embedSeconds: seconds, imagesPerSecond: Math.round((input / seconds) * 10) / 10,
    startedAt: new Date(t0 + startS * 1000).toISOString(), finishedAt: new Date(t0 + (startS + seconds) * 1000).toISOString(),
  };
}

// The reported case: shards at 120–150 images/s, started one after another as worker processes came up.
const shards = [shard('shard-00000', 60, 2, 0.5), shard('shard-00001', 60, 5, 0.4), shard('shard-00002', 60, 8, 0.45), shard('shard-00003', 60, 11, 0.5)];
const report: RunReport = {
  runId: 'run-1', ok: true, finishedAt: '2026-01-01T00:00:12Z', durationSeconds: 4.0,
  embed: { waves: [{ wave: 0, firstShard: 0, shardCount: 4 }], failedChildren: [], wallSeconds: 9.5, imagesPerSecond: 25.3 },
  totals: { entries: 240, input: 240, succeeded: 240, failed: 0, failedByCode: {}, retriedAtEnd: 0, recovered: 0, loadedRows: 240, failureRowsLoaded: 0, notProcessed: 0 },
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

describe('images recovered by the end-of-shard retry', () => {
  it('are summed from the shards\' summaries into the report, its compact form and the printed text', async () => {
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-report-recovered-'));
    try {
      const layout = runLayout(work, 'run-r');
      // end_retry as the worker writes it; the second shard needed no retry (no end_retry at all).
      const summaries = [
        { input: 50, succeeded: 48, failed: 2, failed_by_code: { FETCH_TIMEOUT: 2 }, end_retry: { retried: 7, recovered: 5 } },
        { input: 50, succeeded: 50, failed: 0, failed_by_code: {} },
        { input: 20, succeeded: 20, failed: 0, failed_by_code: {}, end_retry: { retried: 3, recovered: 3 } },
      ];
      for (const [i, summary] of summaries.entries()) {
        await writeJsonAtomic(layout.shardSummaryUri(i), { ...summary, started_at: '2026-01-01T00:00:00Z', finished_at: '2026-01-01T00:00:01Z', images_per_second: 50 });
      }
      const event = {
        run: { runId: 'run-r', workUri: work, dbUri: path.join(work, 'db'), shardSize: 50, shardCount: 3, entries: 120, waves: [{ wave: 0, firstShard: 0, shardCount: 3 }] },
      } as unknown as ReportEvent;
      const { report, compact } = await buildRunReport(event);
      expect(report.shards.map((s) => [s.retriedAtEnd, s.recovered])).toEqual([[7, 5], [0, 0], [3, 3]]);
      expect(report.totals).toMatchObject({ succeeded: 118, retriedAtEnd: 10, recovered: 8 });
      expect(compact.images.recovered).toBe(8);
      expect(formatRunReport(report, 'report.json')).toContain('8 recovered by the end-of-shard retry (of 10 tried again after transient fetch failures)');
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  });

  it('are not mentioned when no image needed the retry', () => {
    expect(formatRunReport(report, 'report.json')).not.toContain('recovered');
  });
});

describe('entries per shard', () => {
  it('come from the plan, where each input file\'s last chunk is short, so a failed shard counts what it really held; loads must close the counts', async () => {
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-report-entries-'));
    try {
      // Two inventory files of 3 and 2 keys in shards of 2: [2, 1] + [2]; planned for real.
      const inventoryDir = path.join(work, 'inventory');
      const written = await writeInventory({ destinationUri: inventoryDir, sourceBucket: 'src', files: [['a.jpg', 'b.jpg', 'c.jpg'], ['d.jpg', 'e.jpg']] });
      const input = { inventoryUri: written.manifestUri, workUri: path.join(work, 'work'), dbUri: path.join(work, 'db'), runId: 'run-e', shardSize: 2 };
      const { state } = await startPlan({ input, executionName: 'run-e' }, readBackfillConfig({}));
      for (const i of state.inputIndexes) await splitInput(state.workUri, 'run-e', i);
      const { plan } = await finishRunPlan(state);
      expect(plan.shardCount).toBe(3);
      const layout = runLayout(state.workUri, 'run-e');
      // Shards 0 and 2 embedded; shard 1 (the one-entry tail of the first file) never was.
      for (const [i, n] of [[0, 2], [2, 2]]) {
        await writeJsonAtomic(layout.shardSummaryUri(i), { input: n, succeeded: n, failed: 0, failed_by_code: {}, started_at: '2026-01-01T00:00:00Z', finished_at: '2026-01-01T00:00:01Z', images_per_second: 2 });
      }
      // Shard 0 loaded what it should; shard 2's load outcome is short of its summary by a row.
      const outcome = (i: number, loadedRows: number) => ({ shard: `shard-0000${i}`, shardIndex: i, status: 'loaded', loadedRows, failedRows: 0, skipped: false, partsRead: 1, durationMs: 5, finishedAt: '2026-01-01T00:00:02Z' });
      await writeJsonAtomic(layout.loadOutcomeUri(0), outcome(0, 2));
      await writeJsonAtomic(layout.loadOutcomeUri(2), outcome(2, 1));
      const { report, compact } = await buildRunReport({ run: plan } as unknown as ReportEvent);
      expect(report.shards.map((s) => [s.shard, s.entries, s.status])).toEqual([
        ['shard-00000', 2, 'complete'],
        ['shard-00001', 1, 'embed-failed'],
        ['shard-00002', 2, 'load-failed'],
      ]);
      expect(report.shards[2].error).toBe('loaded 1 rows and 0 failures for 2 and 0 in summary.json');
      expect(report.totals).toMatchObject({ entries: 5, notProcessed: 1 });
      expect(compact.images.notProcessed).toBe(1);
      expect(report.manifest).not.toHaveProperty('shardEntries');
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  });
});
