/**
 * Lambda: loads one shard's results into LanceDB, or records why it could not be
 * (lib/core/backfill/load-step). Returns a compact outcome; the full one is a file of the run.
 */
import { loadEventSchema, parseEvent } from '../lib/core/backfill/events';
import { loadShard, type LoadStatus } from '../lib/core/backfill/load-step';
import { defaultStore, type BackfillStore } from '../lib/core/backfill/store-port';
import { withStepErrorNames } from '../lib/core/backfill/step-errors';

export interface LoadResponse {
  shardIndex: number;
  status: LoadStatus;
  loadedRows: number;
}

export function makeLoadHandler(getStore: () => BackfillStore): (event: unknown) => Promise<LoadResponse> {
  let store: BackfillStore | undefined;
  return withStepErrorNames(async (event) => {
    store ??= getStore();
    const outcome = await loadShard(parseEvent(loadEventSchema, event, 'load'), store);
    return { shardIndex: outcome.shardIndex, status: outcome.status, loadedRows: outcome.loadedRows };
  });
}

export const handler = makeLoadHandler(defaultStore);
