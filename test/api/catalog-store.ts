/**
 * A small real catalog for the explorer tests: the demo's synthetic pictures (real files, so
 * thumbnails work) through the worker with the tiny model, loaded and indexed.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { generateDemoCatalog } from '../../lib/core/backfill/demo/catalog';
import { silentLogger } from '../../lib/core/log';
import { createWorker } from '../../lib/core/pipeline/worker';
import { parseWorkerConfig } from '../../lib/core/pipeline/worker-config';
import { buildIndexes } from '../../lib/core/store/indexer';
import { loadShardResults } from '../../lib/core/store/loader';
import { TINY_MODEL_DIR } from '../support/models';

export interface CatalogStore {
  dbUri: string;
  imagesDir: string;
}

export async function buildCatalogStore(dir: string, images = 32): Promise<CatalogStore> {
  const catalog = await generateDemoCatalog({ dir: path.join(dir, 'catalog'), count: images });
  // The demo manifest holds a repeated URI on purpose (the backfill's sharding drops it): drop it here too.
  const lines = (await fs.readFile(catalog.manifestUri, 'utf8')).split('\n').filter((l) => l.trim().startsWith('{"uri"'));
  const shardFile = path.join(dir, 'shard.jsonl');
  await fs.writeFile(shardFile, [...new Set(lines)].join('\n') + '\n');
  const worker = await createWorker(parseWorkerConfig({ model: TINY_MODEL_DIR, artifacts: path.join(dir, 'artifacts'), batchSize: 8 }), silentLogger);
  const out = path.join(dir, 'results', 'shard-00000');
  try {
    await worker.processShard(shardFile, out);
  } finally {
    await worker.close();
  }
  const dbUri = path.join(dir, 'db');
  await loadShardResults({ dbUri, shardResultsUri: out, shardId: 'shard-00000' });
  await buildIndexes({ dbUri });
  return { dbUri, imagesDir: catalog.imagesDir };
}
