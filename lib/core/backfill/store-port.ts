/**
 * What the backfill needs from the LanceDB store: load one shard's results, build the indexes.
 * Steps receive it as a parameter (tests pass fakes); `defaultStore()` binds the real one,
 * loaded lazily so that the shard and report steps never pay for LanceDB.
 */
export interface LoadShardRequest {
  dbUri: string;
  shardResultsUri: string;
  shardId: string;
}

export interface LoadShardResult {
  shardId: string;
  loadedRows: number;
  failedRows: number;
  skipped: boolean;
  partsRead: number;
}

export interface BackfillStore {
  loadShardResults(request: LoadShardRequest): Promise<LoadShardResult>;
  buildIndexes(request: { dbUri: string }): Promise<unknown>;
}

export function defaultStore(): BackfillStore {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const store = require('../store') as BackfillStore;
  return { loadShardResults: (r) => store.loadShardResults(r), buildIndexes: (r) => store.buildIndexes(r) };
}
