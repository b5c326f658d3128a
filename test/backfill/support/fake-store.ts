/** An in-memory stand-in for the LanceDB store, recording what the backfill asked of it. */
import { VistaError, type VistaErrorCode } from '../../../lib/core/errors';
import { readJson } from '../../../lib/core/io/location';
import type { BackfillStore, LoadShardRequest } from '../../../lib/core/backfill/store-port';

export interface FakeStore extends BackfillStore {
  loads: LoadShardRequest[];
  indexBuilds: number;
}

/** failShards fail with a plain Error (retryable), or with a VistaError of failCode. */
export function makeFakeStore(options: { failShards?: string[]; failCode?: VistaErrorCode; failIndex?: boolean; rows?: number } = {}): FakeStore {
  const store: FakeStore = {
    loads: [],
    indexBuilds: 0,
    async loadShardResults(request) {
      store.loads.push(request);
      if (options.failShards?.includes(request.shardId)) {
        const message = `simulated commit failure for ${request.shardId}`;
        throw options.failCode ? new VistaError(options.failCode, message) : new Error(message);
      }
      const summary = await readJson<{ succeeded: number }>(`${request.shardResultsUri}/summary.json`);
      return { shardId: request.shardId, loadedRows: summary.succeeded, failedRows: 0, skipped: false, partsRead: 1 };
    },
    async countImageRows() {
      return options.rows ?? 0;
    },
    async buildIndexes() {
      store.indexBuilds++;
      if (options.failIndex) throw new Error('simulated index failure');
      return { rows: options.rows ?? 0, indexes: [{ table: 'images', column: 'embedding', type: 'IVF', action: 'created' }] };
    },
  };
  return store;
}
