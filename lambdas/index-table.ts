/**
 * Lambda: builds the LanceDB indexes once every shard is loaded. A table whose index build needs
 * more than Lambda's 15 minutes belongs in a Batch job instead (see docs/backfill.md).
 */
import { indexEventSchema, parseEvent } from '../lib/core/backfill/events';
import { defaultStore, type BackfillStore } from '../lib/core/backfill/store-port';

export function makeIndexHandler(getStore: () => BackfillStore): (event: unknown) => Promise<unknown> {
  let store: BackfillStore | undefined;
  return async (event) => {
    store ??= getStore();
    const { dbUri } = parseEvent(indexEventSchema, event, 'index');
    return store.buildIndexes({ dbUri });
  };
}

export const handler = makeIndexHandler(defaultStore);
