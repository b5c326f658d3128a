/**
 * One re-tag run as the CLI and the deployed Retag job start it: load the taxonomy, the model (for
 * its id, its logit scale and, once per taxonomy, its text tower to build the label bank; no image
 * is read), then re-tag the given units of the store, or all of them.
 */
import { loadClipModel } from '../model';
import { isRandomWeights } from '../pipeline/worker';
import { openStore } from '../store/connect';
import { withWriterLease } from '../store/writer-lease';
import { getLabelBank, loadTaxonomy, taxonomyId } from '../tags';
import { type RetagOptions, type RetagReport, retagStore } from './retag';

export interface RetagRunConfig {
  db: string;
  taxonomy: string;
  model: string;
  /** Where label banks are cached (same as the worker's artifacts). */
  cache: string;
  rename?: boolean;
  renameDir?: string;
  units?: string[];
  partition?: RetagOptions['partition'];
  onUnit?: RetagOptions['onUnit'];
  log?: (message: string) => void;
}

export const modelHasRandomWeights = isRandomWeights;

export async function runRetag(config: RetagRunConfig): Promise<RetagReport & { randomWeights: boolean }> {
  const taxonomy = await loadTaxonomy(config.taxonomy);
  const model = await loadClipModel(config.model, { logger: () => undefined });
  try {
    const bank = await getLabelBank(model, taxonomy, config.cache);
    const store = await openStore(config.db, { readConsistencySeconds: 0 });
    try {
      const report = await retagStore({
        store,
        taxonomy,
        bank,
        logitScale: model.logitScale,
        rename: config.rename,
        renameDir: config.renameDir,
        units: config.units,
        partition: config.partition,
        onUnit: config.onUnit,
        // Every child of one re-tag run is the same writer (they share the lease); a backfill's
        // loads, compaction or index build wait for it, and it waits for them.
        withWriterLease: (unit, commit) => withWriterLease(config.db, { writer: `retag-${taxonomyId(taxonomy)}`, operation: `retag ${unit}` }, commit),
      });
      return { ...report, randomWeights: await modelHasRandomWeights(config.model) };
    } finally {
      store.close();
    }
  } finally {
    await model.close();
  }
}
