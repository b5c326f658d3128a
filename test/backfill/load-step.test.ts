/** The load step against the real LanceDB store: what it passes as the shard's identity (and newTable) matters. */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readBackfillConfig } from '../../lib/core/backfill/config';
import { synthesizeLocalDefinition } from '../../lib/core/backfill/definition';
import { executionInputSchema, loadEventSchema } from '../../lib/core/backfill/events';
import { runLayout } from '../../lib/core/backfill/layout';
import { loadShard } from '../../lib/core/backfill/load-step';
import { finishRunPlan, startPlan } from '../../lib/core/backfill/plan-run';
import { dedupPartition, splitInput } from '../../lib/core/backfill/plan-steps';
import { BackfillState } from '../../lib/core/backfill/state-names';
import { defaultStore } from '../../lib/core/backfill/store-port';
import { readStoreManifest } from '../../lib/core/store/store-manifest';
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

test('newTable (`--new-table`, execution input): reaches every shard load; without it the store refuses another model', async () => {
  // Execution input → planning state → run plan → the Load map's items → the load event.
  const work = path.join(root, 'work-new-table');
  const db = path.join(root, 'db-new-table');
  const manifest = path.join(root, 'new-table.txt');
  await fs.writeFile(manifest, 's3://b/a.jpg\ns3://b/b.jpg\n');
  const input = executionInputSchema.parse({ manifestUri: manifest, workUri: work, dbUri: db, newTable: true });
  const { state } = await startPlan({ input, executionName: 'run-new' }, readBackfillConfig({}));
  expect(state.newTable).toBe(true);
  await splitInput(work, 'run-new', 0);
  for (const p of state.partitionIndexes) await dedupPartition(work, 'run-new', p);
  expect((await finishRunPlan(state)).plan.newTable).toBe(true);
  const { state: plain } = await startPlan({ input: executionInputSchema.parse({ manifestUri: manifest, workUri: work, dbUri: db }), executionName: 'run-plain' }, readBackfillConfig({}));
  expect(plain.newTable).toBe(false);
  const loadMap = synthesizeLocalDefinition().States[BackfillState.load] as unknown as { ItemSelector: Record<string, string> };
  expect(loadMap.ItemSelector['newTable.$']).toBe('$.newTable');

  const store = defaultStore();
  await writeSyntheticShardResults(runLayout(work, 'run-a').shardResultsUri(0), { shardId: 'run-a-s0', count: 10, dim: 16, seed: 5 });
  await writeSyntheticShardResults(runLayout(work, 'run-b').shardResultsUri(0), { shardId: 'run-b-s0', count: 12, dim: 16, seed: 6, modelId: 'other-clip' });
  await loadShard({ runId: 'run-a', workUri: work, dbUri: db, shardIndex: 0 }, store);
  await expect(loadShard({ runId: 'run-b', workUri: work, dbUri: db, shardIndex: 0 }, store)).rejects.toMatchObject({ code: 'STORE_MODEL_MISMATCH' });
  expect(await imageIds(db)).toHaveLength(10);
  const event = loadEventSchema.parse({ runId: 'run-b', workUri: work, dbUri: db, shardIndex: 0, newTable: true });
  expect(await loadShard(event, store)).toMatchObject({ status: 'loaded', loadedRows: 12 });
  expect(await imageIds(db)).toHaveLength(12);
  expect(await readStoreManifest(db)).toMatchObject({ model_id: 'other-clip' });
});
