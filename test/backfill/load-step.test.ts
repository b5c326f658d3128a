/** The load step against the real LanceDB store: what it passes as the shard's identity matters. */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runLayout } from '../../lib/core/backfill/layout';
import { loadShard } from '../../lib/core/backfill/load-step';
import { defaultStore } from '../../lib/core/backfill/store-port';
import { TableName, openStore } from '../../lib/core/store/connect';
import { writeSyntheticShardResults } from '../support/results';

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-load-step-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function imageIds(db: string): Promise<string[]> {
  const store = await openStore(db, { readConsistencySeconds: 0 });
  try {
    const rows = (await (await store.table(TableName.images))!.query().select(['image_id']).toArray()) as { image_id: string }[];
    return rows.map((r) => r.image_id).sort();
  } finally {
    store.close();
  }
}

test('two runs into one store keep each other’s rows although both have a shard-00000', async () => {
  const work = path.join(root, 'work');
  const db = path.join(root, 'db');
  const store = defaultStore();
  const runs = [
    { runId: 'catalog-part-001', seed: 1 },
    { runId: 'catalog-part-002', seed: 2 },
  ];
  const expected: string[] = [];
  for (const run of runs) {
    const shard = await writeSyntheticShardResults(runLayout(work, run.runId).shardResultsUri(0), { shardId: `${run.runId}-s0`, count: 20, dim: 16, seed: run.seed });
    expected.push(...shard.rows.map((r) => r.imageId));
    const outcome = await loadShard({ runId: run.runId, workUri: work, dbUri: db, shardIndex: 0 }, store);
    expect(outcome).toMatchObject({ shard: 'shard-00000', status: 'loaded', loadedRows: 20, skipped: false });
  }
  expect(new Set(expected).size).toBe(40);
  expect(await imageIds(db)).toEqual(expected.sort());

  // Re-running the first run's load is still a no-op.
  expect(await loadShard({ runId: 'catalog-part-001', workUri: work, dbUri: db, shardIndex: 0 }, store)).toMatchObject({ skipped: true });
  expect(await imageIds(db)).toHaveLength(40);
});
