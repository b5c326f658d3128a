import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TableName, openStore } from '../../lib/core/store/connect';
import { buildIndexes, type IndexReport, unindexedVectorRows } from '../../lib/core/store/indexer';
import { loadShardResults } from '../../lib/core/store/loader';
import { searchByVector, similarTo } from '../../lib/core/store/search';
import { ivfPartitions, needsRetrain, planVectorIndex, pqSubVectors } from '../../lib/core/store/vector-index';
import { writeSyntheticShardResults, type SyntheticShard } from '../support/results';

const DIM = 32;
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-indexer-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function loadShards(db: string, sizes: number[], offset = 0): Promise<SyntheticShard[]> {
  const shards: SyntheticShard[] = [];
  for (const [i, count] of sizes.entries()) {
    const shardId = `shard-${String(offset + i).padStart(5, '0')}`;
    const shard = await writeSyntheticShardResults(path.join(root, path.basename(db), shardId), { shardId, count, dim: DIM, seed: offset + i, failures: 1, partSize: 100 });
    await loadShardResults({ dbUri: db, shardResultsUri: shard.dir, shardId });
    shards.push(shard);
  }
  return shards;
}

function actions(report: IndexReport): Record<string, string> {
  return Object.fromEntries(report.indexes.map((i) => [`${i.table}.${i.column}`, i.action]));
}

describe('vector index settings', () => {
  test('partitions: rows/4096 while that is below √rows, √rows beyond', () => {
    expect(ivfPartitions(1_000)).toBe(1);
    expect(ivfPartitions(1_000_000)).toBe(244);
    expect(ivfPartitions(4096 * 4096)).toBe(4096);
    expect(ivfPartitions(500_000_000)).toBe(22_361);
  });

  test('PQ sub-vectors: 8 dimensions each when the width allows', () => {
    expect(pqSubVectors(512)).toBe(64);
    expect(pqSubVectors(100)).toBe(1);
    expect(planVectorIndex(1_000_000, 512, { type: 'IVF_PQ' })).toMatchObject({ type: 'IVF_PQ', numPartitions: 244, numSubVectors: 64 });
    expect(planVectorIndex(1_000_000, 512)).toMatchObject({ type: 'IVF_RQ', numPartitions: 244 });
    expect(planVectorIndex(1_000_000, 512).numSubVectors).toBeUndefined();
  });

  test('retrain when the table more than doubled or the type changed', () => {
    const trained = planVectorIndex(1_000_000, 512);
    expect(needsRetrain(undefined, trained)).toBe(true);
    expect(needsRetrain(trained, planVectorIndex(1_900_000, 512))).toBe(false);
    expect(needsRetrain(trained, planVectorIndex(2_100_000, 512))).toBe(true);
    expect(needsRetrain(trained, planVectorIndex(1_000_000, 512, { type: 'IVF_PQ' }))).toBe(true);
  });
});

test('a small table gets scalar indexes but no vector index: flat search is exact', async () => {
  const db = path.join(root, 'small');
  await loadShards(db, [120]);
  const report = await buildIndexes({ dbUri: db });
  expect(report.rows).toBe(120);
  expect(report.errorRows).toBe(1);
  expect(report.indexes.find((i) => i.column === 'embedding')).toMatchObject({ action: 'skipped' });
  expect(actions(report)).toMatchObject({ 'images.image_id': 'created', 'images.hotel_id': 'created', 'images.tags': 'created', 'images.shard_id': 'created' });
});

test('builds compaction, a cosine vector index and scalar indexes; re-running keeps them and folds in new rows', async () => {
  const db = path.join(root, 'big');
  const shards = await loadShards(db, [300, 300, 300]);
  const first = await buildIndexes({ dbUri: db, minRowsForVectorIndex: 500, vectorIndex: { numPartitions: 4 } });
  expect(first.rows).toBe(900);
  expect(first.optimize.map((o) => o.table).sort()).toEqual([TableName.imageErrors, TableName.images, TableName.loadLedger].sort());
  expect(first.optimize.find((o) => o.table === TableName.images)!.fragmentsRemoved).toBeGreaterThan(1);
  expect(actions(first)).toEqual({
    'images.embedding': 'created',
    'images.image_id': 'created',
    'images.hotel_id': 'created',
    'images.shard_id': 'created',
    'images.tags': 'created',
    // Full-text indexes for hybrid search (tags has one too, beside its LABEL_LIST).
    'images.hotel_name': 'created',
    'images.city': 'created',
    'image_errors.image_id': 'created',
  });
  expect(first.indexes.filter((i) => i.type === 'FTS').map((i) => i.column)).toEqual(['tags', 'hotel_name', 'city']);
  expect(first.indexes[0].plan).toMatchObject({ type: 'IVF_RQ', numPartitions: 4, rows: 900 });

  const store = await openStore(db, { readConsistencySeconds: 0 });
  const images = (await store.table(TableName.images))!;
  const indices = await images.listIndices();
  expect(indices.find((i) => i.columns[0] === 'embedding')!.indexType).toMatch(/ivf_?rq/i);
  expect(indices.filter((i) => i.columns[0] === 'tags').map((i) => i.indexType).sort()).toEqual(['FTS', expect.stringMatching(/label_?list/i)]);
  expect((await images.indexStats(indices.find((i) => i.columns[0] === 'embedding')!.name))!.distanceType).toBe('cosine');

  // Searches use the index and still exclude the query image and honour tags.
  const target = shards[0].rows[10];
  const similar = await similarTo(store, target.imageId, { k: 5, nprobes: 4, refineFactor: 10 });
  expect(similar.results).toHaveLength(5);
  expect(similar.results.map((r) => r.imageId)).not.toContain(target.imageId);
  const tags = target.tags.slice(0, 2);
  const tagged = await searchByVector(store, shards[0].embeddings[10], { k: 5, tags });
  expect(tagged.results.length).toBeGreaterThan(0);
  expect(tagged.results.every((r) => tags.every((t) => r.tags.includes(t)))).toBe(true);

  const again = await buildIndexes({ dbUri: db, minRowsForVectorIndex: 500, vectorIndex: { numPartitions: 4 } });
  expect(new Set(Object.values(actions(again)))).toEqual(new Set(['kept']));

  expect(await unindexedVectorRows(db)).toBe(0);
  await loadShards(db, [200], 10);
  // New rows are searched exactly until the next build folds them into the index.
  expect(await unindexedVectorRows(db)).toBe(200);
  const grown = await buildIndexes({ dbUri: db, minRowsForVectorIndex: 500, vectorIndex: { numPartitions: 4 } });
  expect(await unindexedVectorRows(db)).toBe(0);
  expect(grown.rows).toBe(1100);
  expect(actions(grown)['images.embedding']).toBe('kept');
  const vectorIndex = (await images.listIndices()).find((i) => i.columns[0] === 'embedding')!;
  expect((await images.indexStats(vectorIndex.name))!.numUnindexedRows).toBe(0);

  const forced = await buildIndexes({ dbUri: db, minRowsForVectorIndex: 500, vectorIndex: { numPartitions: 4 }, force: true });
  expect(new Set(Object.values(actions(forced)))).toEqual(new Set(['replaced']));
  store.close();
});

test('a store without images is a typed error', async () => {
  await expect(buildIndexes({ dbUri: path.join(root, 'empty') })).rejects.toMatchObject({ code: 'STORE_FAILED' });
});
