/**
 * `vista backfill status`: where a run stands, from its files alone (local folder or S3), so it
 * works for a local run and for an AWS execution days into its Embed step alike:
 *  - the plan (`plan/run-plan.json`, written by FinishPlan) gives shards and waves;
 *  - a shard is done when its summary.json exists, running when it has part markers but no
 *    summary, failed when the load step recorded it as not embedded or failed;
 *  - images/s is the finished shards' images over the wall time from the first worker start to
 *    the last finish; the ETA divides the images left by it.
 */
import { mapWithConcurrency } from '../io/concurrency';
import { exists, joinUri, listNames, readJson } from '../io/location';
import type { PartMarker, ShardSummary } from '../pipeline/shard-output';
import type { RunPlan } from './events';
import { runLayout, SUMMARY_FILE } from './layout';
import { readLoadOutcome } from './load-step';
import { planLayout } from './plan-files';

export type ShardState = 'done' | 'running' | 'failed' | 'pending';

export interface WaveStatus {
  wave: number;
  firstShard: number;
  shards: number;
  done: number;
  running: number;
  failed: number;
  pending: number;
}

export interface RunStatus {
  runId: string;
  /** 'planning' until the shards exist. */
  phase: 'planning' | 'embedding' | 'finished';
  shards?: number;
  entries?: number;
  waves: WaveStatus[];
  imagesDone: number;
  imagesPerSecond?: number;
  etaSeconds?: number;
  reportWritten: boolean;
}

/** The plan's non-array fields, written next to the plan so that status needs no execution. */
export type StoredRunPlan = Omit<RunPlan, 'shardIndexes'>;

export function runPlanUri(workUri: string, runId: string): string {
  return joinUri(planLayout(workUri, runId).planUri, 'run-plan.json');
}

export async function readRunStatus(workUri: string, runId: string, now = new Date(), concurrency = 32): Promise<RunStatus> {
  const layout = runLayout(workUri, runId);
  const reportWritten = await exists(layout.reportUri);
  const planUri = runPlanUri(workUri, runId);
  if (!(await exists(planUri))) return { runId, phase: 'planning', waves: [], imagesDone: 0, reportWritten };
  const plan = await readJson<StoredRunPlan>(planUri);

  const shards = await mapWithConcurrency(
    Array.from({ length: plan.shardCount }, (_, i) => i),
    concurrency,
    async (index): Promise<{ state: ShardState; input: number; startedAt?: number; finishedAt?: number }> => {
      const names = await listNames(layout.shardResultsUri(index));
      if (names.includes(SUMMARY_FILE)) {
        const summary = await readJson<ShardSummary>(layout.shardSummaryUri(index));
        return { state: 'done', input: summary.input, startedAt: Date.parse(summary.started_at), finishedAt: Date.parse(summary.finished_at) };
      }
      const load = await readLoadOutcome(workUri, runId, index);
      if (load && load.status !== 'loaded') return { state: 'failed', input: 0 };
      const parts = names.filter((n) => /^part-\d+\.json$/.test(n));
      if (parts.length === 0) return { state: 'pending', input: 0 };
      const markers = await Promise.all(parts.map((n) => readJson<PartMarker>(joinUri(layout.shardResultsUri(index), n))));
      return { state: 'running', input: markers.reduce((sum, m) => sum + m.input, 0) };
    },
  );

  const waves = plan.waves.map((w) => {
    const of = shards.slice(w.firstShard, w.firstShard + w.shardCount);
    const count = (state: ShardState) => of.filter((s) => s.state === state).length;
    return { wave: w.wave, firstShard: w.firstShard, shards: w.shardCount, done: count('done'), running: count('running'), failed: count('failed'), pending: count('pending') };
  });
  const imagesDone = shards.reduce((sum, s) => sum + s.input, 0);
  const starts = shards.flatMap((s) => (s.startedAt ? [s.startedAt] : []));
  const ends = shards.flatMap((s) => (s.finishedAt ? [s.finishedAt] : []));
  const finished = reportWritten || shards.every((s) => s.state === 'done' || s.state === 'failed');
  let imagesPerSecond: number | undefined;
  let etaSeconds: number | undefined;
  if (starts.length > 0) {
    const wall = ((finished ? Math.max(...ends) : now.getTime()) - Math.min(...starts)) / 1000;
    if (wall > 0) imagesPerSecond = Math.round((imagesDone / wall) * 10) / 10;
    const left = Math.max(0, plan.entries - imagesDone);
    if (imagesPerSecond && !finished) etaSeconds = Math.round(left / imagesPerSecond);
  }
  return {
    runId,
    phase: finished ? 'finished' : 'embedding',
    shards: plan.shardCount,
    entries: plan.entries,
    waves,
    imagesDone,
    ...(imagesPerSecond !== undefined ? { imagesPerSecond } : {}),
    ...(etaSeconds !== undefined ? { etaSeconds } : {}),
    reportWritten,
  };
}

export function formatRunStatus(status: RunStatus): string {
  const lines = [`Backfill ${status.runId}: ${status.phase}${status.reportWritten ? ' (report written)' : ''}`];
  if (status.shards === undefined) return [...lines, '  the plan is not finished yet (no plan/run-plan.json)'].join('\n');
  lines.push(`  ${status.imagesDone} of ${status.entries} images in ${status.shards} shards, ${status.waves.length} wave(s)`);
  for (const w of status.waves) {
    lines.push(`  wave ${w.wave} (shards ${w.firstShard}–${w.firstShard + w.shards - 1}): ${w.done} done, ${w.running} running, ${w.failed} failed, ${w.pending} pending`);
  }
  if (status.imagesPerSecond !== undefined) lines.push(`  speed ${status.imagesPerSecond} images/s`);
  if (status.etaSeconds !== undefined) lines.push(`  ETA ${formatDuration(status.etaSeconds)}`);
  return lines.join('\n');
}

function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min` : `${seconds} s`;
}
