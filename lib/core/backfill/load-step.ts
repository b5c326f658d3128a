/**
 * The load step, one shard at a time: a shard whose worker finished (summary.json present) is
 * loaded into LanceDB; one that did not is recorded as not embedded, so the Map never fails
 * for a shard the Batch step already reported. Every outcome is written next to the run, where
 * the report reads it: the Map itself returns nothing (10,000 results would not fit a state).
 */
import { exists, readJson, writeJsonAtomic } from '../io/location';
import { describeCause, type LoadEvent } from './events';
import { runLayout, shardId, storeShardId } from './layout';
import type { BackfillStore } from './store-port';

export type LoadStatus = 'loaded' | 'not-embedded' | 'failed';

export interface LoadOutcome {
  shard: string;
  shardIndex: number;
  status: LoadStatus;
  loadedRows: number;
  failedRows: number;
  /** The store found the shard already loaded (a re-run): nothing was written twice. */
  skipped: boolean;
  partsRead: number;
  durationMs: number;
  error?: { error: string; cause: string };
  finishedAt: string;
}

export async function loadShard(event: LoadEvent, store: BackfillStore): Promise<LoadOutcome> {
  const layout = runLayout(event.workUri, event.runId);
  const started = Date.now();
  const base = { shard: shardId(event.shardIndex), shardIndex: event.shardIndex, loadedRows: 0, failedRows: 0, skipped: false, partsRead: 0 };

  let outcome: LoadOutcome;
  if (event.error) {
    outcome = {
      ...base,
      status: 'failed',
      error: { error: event.error.Error, cause: describeCause(event.error.Cause) },
      durationMs: 0,
      finishedAt: new Date().toISOString(),
    };
  } else if (!(await exists(layout.shardSummaryUri(event.shardIndex)))) {
    outcome = { ...base, status: 'not-embedded', durationMs: Date.now() - started, finishedAt: new Date().toISOString() };
  } else {
    const result = await store.loadShardResults({
      dbUri: event.dbUri,
      shardResultsUri: layout.shardResultsUri(event.shardIndex),
      shardId: storeShardId(event.runId, event.shardIndex),
      ...(event.newTable ? { newTable: true } : {}),
    });
    outcome = {
      ...base,
      status: 'loaded',
      loadedRows: result.loadedRows,
      failedRows: result.failedRows,
      skipped: result.skipped,
      partsRead: result.partsRead,
      durationMs: Date.now() - started,
      finishedAt: new Date().toISOString(),
    };
  }
  await writeJsonAtomic(layout.loadOutcomeUri(event.shardIndex), outcome);
  return outcome;
}

export async function readLoadOutcome(workUri: string, runId: string, shardIndex: number): Promise<LoadOutcome | undefined> {
  const uri = runLayout(workUri, runId).loadOutcomeUri(shardIndex);
  return (await exists(uri)) ? readJson<LoadOutcome>(uri) : undefined;
}
