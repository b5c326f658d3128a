/**
 * What the backfill needs from the LanceDB store: load one shard's results, build the indexes,
 * and the table's size (to decide where indexes are built). Steps receive it as a parameter
 * (tests pass fakes); `defaultStore()` binds the real one, loaded lazily so that the shard and
 * report steps never pay for LanceDB.
 */
import type { LoadShardOptions, LoadShardResult } from '../store/loader';

export type LoadShardRequest = Pick<LoadShardOptions, 'dbUri' | 'shardResultsUri' | 'shardId' | 'newTable'>;

export interface BackfillStore {
  loadShardResults(request: LoadShardRequest): Promise<Pick<LoadShardResult, 'shardId' | 'loadedRows' | 'failedRows' | 'skipped' | 'partsRead'>>;
  buildIndexes(request: { dbUri: string }): Promise<unknown>;
  /** Rows of the images table (0 when it does not exist yet). */
  countImageRows(request: { dbUri: string }): Promise<number>;
}

export function defaultStore(): BackfillStore {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { loadShardResults } = require('../store/loader') as typeof import('../store/loader');
  const { buildIndexes } = require('../store/indexer') as typeof import('../store/indexer');
  const { openStore, TableName } = require('../store/connect') as typeof import('../store/connect');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return {
    loadShardResults: (r) => loadShardResults(r),
    buildIndexes: (r) => buildIndexes(r),
    async countImageRows({ dbUri }) {
      const store = await openStore(dbUri, { readConsistencySeconds: 0 });
      try {
        return (await (await store.table(TableName.images))?.countRows()) ?? 0;
      } finally {
        store.close();
      }
    },
  };
}
