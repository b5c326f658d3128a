/**
 * The index step: builds the LanceDB indexes, unless the images table is big enough that the
 * build could outlast a Lambda (15 minutes), in which case it hands the build to the Batch index
 * job and says so; the state machine then routes to that job.
 */
import type { IndexEvent } from './events';
import type { BackfillStore } from './store-port';

export type IndexStepResult =
  | { handedOff: false; rows: number; report: unknown }
  | { handedOff: true; rows: number; reason: string };

export async function indexStep(event: IndexEvent, store: BackfillStore): Promise<IndexStepResult> {
  if (event.batchFromRows !== undefined) {
    const rows = await store.countImageRows({ dbUri: event.dbUri });
    if (rows >= event.batchFromRows) {
      return { handedOff: true, rows, reason: `${rows} rows ≥ ${event.batchFromRows}: built by the Batch index job` };
    }
  }
  const report = (await store.buildIndexes({ dbUri: event.dbUri })) as { rows?: number };
  return { handedOff: false, rows: report?.rows ?? 0, report };
}
