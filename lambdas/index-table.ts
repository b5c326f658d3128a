/**
 * Lambda: builds the LanceDB indexes once every shard is loaded, or hands a table too big for
 * Lambda's 15 minutes to the Batch index job (lib/core/backfill/index-step).
 */
import { indexEventSchema, parseEvent } from '../lib/core/backfill/events';
import { indexStep, type IndexStepResult } from '../lib/core/backfill/index-step';
import { defaultStore, type BackfillStore } from '../lib/core/backfill/store-port';
import { withStepErrorNames } from '../lib/core/backfill/step-errors';

export function makeIndexHandler(getStore: () => BackfillStore): (event: unknown) => Promise<IndexStepResult> {
  let store: BackfillStore | undefined;
  return withStepErrorNames(async (event) => {
    store ??= getStore();
    return indexStep(parseEvent(indexEventSchema, event, 'index'), store);
  });
}

export const handler = makeIndexHandler(defaultStore);
