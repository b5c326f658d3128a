import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataType, Precision } from 'apache-arrow';
import { TableName, openStore } from '../../lib/core/store/connect';
import { loadShardResults } from '../../lib/core/store/loader';
import { ShardIncompleteError } from '../../lib/core/store/shard-results';
import { writeSyntheticShardResults, type SyntheticShard } from '../support/results';

const DIM = 32;
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-loader-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function shard(name: string, count: number, seed: number, failures = 0, partSize = 40): Promise<SyntheticShard> {
  return writeSyntheticShardResults(path.join(root, name, 'results', name), { shardId: name, count, dim: DIM, seed, failures, partSize });
}

async function contents(db: string): Promise<{ ids: string[]; errorIds: string[] }> {
  const store = await openStore(db, { readConsistencySeconds: 0 });
  try {
    const images = await store.table(TableName.images);
    const errors = await store.table(TableName.imageErrors);
    const ids = ((await images!.query().select(['image_id']).toArray()) as { image_id: string }[]).map((r) => r.image_id);
    const errorIds = ((await errors!.query().select(['image_id']).toArray()) as { image_id: string }[]).map((r) => r.image_id);
    return { ids, errorIds };
  } finally {
    store.close();
  }
}

function expectUnique(ids: string[]): void {
  expect(new Set(ids).size).toBe(ids.length);
}

test('loads rows and failures in bulk, stores embeddings as float16, and a second load is a no-op', async () => {
  const db = path.join(root, 'db-twice');
  const s = await shard('shard-00001', 150, 1, 7);
  const progress: number[] = [];
  const first = await loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId, appendBatchRows: 100, onProgress: (p) => progress.push(p.rowsAppended) });
  expect(first).toMatchObject({ shardId: s.shardId, loadedRows: 150, failedRows: 7, skipped: false, partsRead: 4 });
  expect(progress).toEqual([120, 150]);

  const second = await loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId });
  expect(second).toMatchObject({ loadedRows: 150, failedRows: 7, skipped: true, loadId: first.loadId });

  const { ids, errorIds } = await contents(db);
  expect(ids.sort()).toEqual(s.rows.map((r) => r.imageId).sort());
  expect(errorIds.sort()).toEqual([...s.failedIds].sort());

  const store = await openStore(db);
  const schema = await (await store.table(TableName.images))!.schema();
  store.close();
  const embedding = schema.fields.find((f) => f.name === 'embedding')!;
  const item = embedding.type.children[0].type;
  expect(DataType.isFloat(item) && item.precision).toBe(Precision.HALF);
  expect(schema.fields.map((f) => f.name)).toEqual(expect.arrayContaining(['shard_id', 'load_id']));
});

test('forced reloads replace the shard rows instead of adding to them', async () => {
  const db = path.join(root, 'db-force');
  const s = await shard('shard-00002', 60, 2, 2);
  await loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId });
  const again = await loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId, force: true });
  expect(again.skipped).toBe(false);
  const { ids, errorIds } = await contents(db);
  expect(ids).toHaveLength(60);
  expectUnique(ids);
  expect(errorIds).toHaveLength(2);
});

test('a re-run worker output (new summary) replaces the earlier output of that shard', async () => {
  const db = path.join(root, 'db-rerun');
  const before = await shard('shard-00003', 50, 3);
  await loadShardResults({ dbUri: db, shardResultsUri: before.dir, shardId: before.shardId });
  await fs.rm(before.dir, { recursive: true });
  const after = await shard('shard-00003', 30, 33, 20);
  const result = await loadShardResults({ dbUri: db, shardResultsUri: after.dir, shardId: after.shardId });
  expect(result).toMatchObject({ skipped: false, loadedRows: 30, failedRows: 20 });
  const { ids, errorIds } = await contents(db);
  expect(ids).toHaveLength(30);
  expect(errorIds).toHaveLength(20);
});

test('concurrent loads of many shards, some of them several times at once, keep exactly one copy of each row', async () => {
  const db = path.join(root, 'db-concurrent');
  const shards = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => shard(`shard-1000${i}`, 40 + i * 13, 100 + i, i % 2)));
  const loads = shards.map((s) => loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId, appendBatchRows: 30 }));
  for (const again of [shards[2], shards[2], shards[5]]) {
    loads.push(loadShardResults({ dbUri: db, shardResultsUri: again.dir, shardId: again.shardId, appendBatchRows: 30 }));
  }
  const results = await Promise.all(loads);
  expect(results.every((r) => r.loadedRows > 0)).toBe(true);

  const { ids, errorIds } = await contents(db);
  expect(ids).toHaveLength(shards.reduce((n, s) => n + s.rows.length, 0));
  expectUnique(ids);
  expect(errorIds).toHaveLength(shards.reduce((n, s) => n + s.failedIds.length, 0));
  expectUnique(errorIds);
});

test.each([
  ['after appending, before the ledger records the load', 'afterAppend'],
  ['after the ledger records the load, before pruning', 'afterRecord'],
] as const)('a load that crashes %s converges to one copy when re-run', async (_label, hook) => {
  const db = path.join(root, `db-crash-${hook}`);
  const s = await shard(`shard-2000-${hook}`, 90, 7, 3);
  // A first complete load, then a forced reload that dies (no cleanup runs): two attempts' rows are in the table.
  await loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId });
  const crash = () => {
    throw new Error('simulated crash');
  };
  await expect(loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId, force: true, hooks: { [hook]: crash, crash: true } })).rejects.toThrow(
    'simulated crash',
  );
  expect((await contents(db)).ids).toHaveLength(180);

  const rerun = await loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId });
  expect(rerun.loadedRows).toBe(90);
  const { ids, errorIds } = await contents(db);
  expect(ids).toHaveLength(90);
  expectUnique(ids);
  expect(errorIds).toHaveLength(3);
  // Settled: the next run is a no-op again.
  expect(await loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId })).toMatchObject({ skipped: true, loadId: rerun.loadId });
});

test('a first load that crashes before its ledger entry leaves nothing behind after the re-run', async () => {
  const db = path.join(root, 'db-crash-first');
  const s = await shard('shard-30000', 70, 8, 1);
  await expect(
    loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId, hooks: { afterAppend: () => Promise.reject(new Error('boom')) } }),
  ).rejects.toThrow('boom');
  const rerun = await loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId });
  expect(rerun.skipped).toBe(false);
  const { ids, errorIds } = await contents(db);
  expect(ids).toHaveLength(70);
  expectUnique(ids);
  expect(errorIds).toHaveLength(1);
});

test('a shard whose every image failed loads its failures and no rows', async () => {
  const db = path.join(root, 'db-all-failed');
  const s = await shard('shard-60000', 0, 11, 4);
  expect(await loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId })).toMatchObject({ loadedRows: 0, failedRows: 4, partsRead: 0 });
  const { ids, errorIds } = await contents(db);
  expect(ids).toEqual([]);
  expect(errorIds.sort()).toEqual([...s.failedIds].sort());
});

test('a shard without summary.json is refused as incomplete', async () => {
  const s = await shard('shard-40000', 10, 9);
  await fs.rm(path.join(s.dir, 'summary.json'));
  const load = loadShardResults({ dbUri: path.join(root, 'db-incomplete'), shardResultsUri: s.dir, shardId: s.shardId });
  await expect(load).rejects.toBeInstanceOf(ShardIncompleteError);
  await expect(load).rejects.toMatchObject({ code: 'OUTPUT_INVALID', details: { reason: 'SHARD_INCOMPLETE' } });
});

test('a shard of a different embedding width is refused (the store records its model and width)', async () => {
  const db = path.join(root, 'db-width');
  const a = await shard('shard-50000', 10, 10);
  await loadShardResults({ dbUri: db, shardResultsUri: a.dir, shardId: a.shardId });
  const wide = await writeSyntheticShardResults(path.join(root, 'wide'), { shardId: 'shard-50001', count: 5, dim: 64, seed: 1 });
  await expect(loadShardResults({ dbUri: db, shardResultsUri: wide.dir, shardId: wide.shardId })).rejects.toMatchObject({ code: 'STORE_MODEL_MISMATCH' });
});

test('a load that fails after appending removes its own rows at once (no copies visible until a retry)', async () => {
  const db = path.join(root, 'db-failed-attempt');
  const s = await shard('shard-70000', 50, 12, 2);
  for (let attempt = 0; attempt < 3; attempt++) {
    await expect(
      loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId, hooks: { afterAppend: () => Promise.reject(new Error('timeout')) } }),
    ).rejects.toThrow('timeout');
  }
  expect(await contents(db)).toEqual({ ids: [], errorIds: [] });
  await loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId });
  const { ids, errorIds } = await contents(db);
  expect(ids).toHaveLength(50);
  expectUnique(ids);
  expect(errorIds).toHaveLength(2);
});

test('errors.jsonl with fewer records than the summary counts is refused, and the attempt leaves no rows', async () => {
  const db = path.join(root, 'db-short-errors');
  const s = await shard('shard-80000', 30, 13, 3);
  const errorsFile = path.join(s.dir, 'errors.jsonl');
  const lines = (await fs.readFile(errorsFile, 'utf8')).trim().split('\n');
  await fs.writeFile(errorsFile, `${lines.slice(0, 2).join('\n')}\n`);
  await expect(loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId })).rejects.toMatchObject({
    code: 'OUTPUT_INVALID',
    message: expect.stringContaining('summary says 3'),
  });
  expect(await contents(db)).toEqual({ ids: [], errorIds: [] });
});
