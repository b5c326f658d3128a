/**
 * One row per image whatever loaded it, one writer per store, one model per store (LanceDB on a
 * local folder; the same lease code on S3 is in writer-lease.test.ts and conditional-writes.test.ts).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { withStepErrorNames } from '../../lib/core/backfill/step-errors';
import { ImageErrorCode } from '../../lib/core/errors';
import { exitCodeFor } from '../../lib/core/exit-codes';
import { makeLogger } from '../../lib/core/log';
import { TableName, openStore } from '../../lib/core/store/connect';
import { loadShardResults } from '../../lib/core/store/loader';
import { readStoreManifest } from '../../lib/core/store/store-manifest';
import { readWriterLease } from '../../lib/core/store/writer-lease';
import { writeSyntheticShardResults, type SyntheticShard } from '../support/results';

const DIM = 16;
let root: string;
const silent = makeLogger({ json: true, write: () => {} });

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-one-row-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** A shard of `run` holding images `<images>-img-<first…first+count>` (same prefix, same images). */
async function shard(run: string, index: number, images: string, count: number, seed: number, modelId?: string): Promise<SyntheticShard> {
  const shardId = `${run}/shard-0000${index}`;
  return writeSyntheticShardResults(path.join(root, 'results', shardId), { shardId, count, dim: DIM, seed, partSize: 25, imagePrefix: images, modelId });
}

async function rowsById(db: string): Promise<Map<string, string[]>> {
  const store = await openStore(db, { readConsistencySeconds: 0 });
  try {
    const rows = (await (await store.table(TableName.images))!.query().select(['image_id', 'shard_id']).toArray()) as { image_id: string; shard_id: string }[];
    const byId = new Map<string, string[]>();
    for (const r of rows) byId.set(r.image_id, [...(byId.get(r.image_id) ?? []), r.shard_id]);
    return byId;
  } finally {
    store.close();
  }
}

const load = (db: string, s: SyntheticShard, extra: Partial<Parameters<typeof loadShardResults>[0]> = {}) =>
  loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId, lease: { logger: silent, pollMs: 20 }, ...extra });

test('the same images loaded by two runs: one row each, the later load’s', async () => {
  const db = path.join(root, 'db-two-runs');
  const a = await shard('run-a', 0, 'catalog', 30, 1);
  const b = await shard('run-b', 0, 'catalog', 20, 2); // images 0..19 again
  await load(db, a);
  const second = await load(db, b);
  expect(second.superseded).toEqual({ images: 20, imageErrors: 0 });
  const byId = await rowsById(db);
  expect(byId.size).toBe(30);
  expect([...byId.values()].every((shards) => shards.length === 1)).toBe(true);
  expect(byId.get('catalog-img-0')).toEqual(['run-b/shard-00000']);
  expect(byId.get('catalog-img-29')).toEqual(['run-a/shard-00000']);
  // Loading run-a's shard again is a no-op (the ledger has it): run-b's rows stay.
  expect((await load(db, a)).skipped).toBe(true);
  expect((await rowsById(db)).get('catalog-img-0')).toEqual(['run-b/shard-00000']);
});

test('a later run\'s transient failure (fetch timed out) keeps the good row an earlier run stored; a permanent one replaces it', async () => {
  const db = path.join(root, 'db-transient');
  const a = await shard('run-a', 0, 'keep', 10, 1);
  await load(db, a);
  const b = await writeSyntheticShardResults(path.join(root, 'results', 'run-b', 'shard-00000'), {
    shardId: 'run-b/shard-00000',
    count: 0,
    dim: DIM,
    seed: 3,
    failedImages: [
      { imageId: 'keep-img-0', code: ImageErrorCode.FETCH_TIMEOUT },
      { imageId: 'keep-img-1', code: ImageErrorCode.FETCH_FAILED },
      { imageId: 'keep-img-2', code: ImageErrorCode.NOT_FOUND },
    ],
  });
  const loaded = await load(db, b);
  expect(loaded.superseded).toEqual({ images: 1, imageErrors: 0 });
  const byId = await rowsById(db);
  expect(byId.get('keep-img-0')).toEqual(['run-a/shard-00000']);
  expect(byId.get('keep-img-1')).toEqual(['run-a/shard-00000']);
  expect(byId.has('keep-img-2')).toBe(false); // the object is gone: its row goes too
  const store = await openStore(db, { readConsistencySeconds: 0 });
  try {
    const errors = (await (await store.table(TableName.imageErrors))!.query().select(['image_id', 'error_code']).toArray()) as { image_id: string; error_code: string }[];
    // Every outcome is still recorded.
    expect(errors.map((e) => `${e.image_id}:${e.error_code}`).sort()).toEqual(['keep-img-0:FETCH_TIMEOUT', 'keep-img-1:FETCH_FAILED', 'keep-img-2:NOT_FOUND']);
  } finally {
    store.close();
  }
});

test('a load that crashed after superseding, before recording, is finished by its retry: one row each', async () => {
  const db = path.join(root, 'db-crash');
  const a = await shard('run-a', 1, 'crash', 20, 3);
  const b = await shard('run-b', 1, 'crash', 20, 4);
  await load(db, a);
  await expect(load(db, b, { hooks: { crash: true, afterSupersede: () => { throw new Error('killed'); } } })).rejects.toThrow('killed');
  const retry = await load(db, b);
  expect(retry.skipped).toBe(false);
  const byId = await rowsById(db);
  expect(byId.size).toBe(20);
  expect([...byId.values()].every((shards) => shards.length === 1 && shards[0] === b.shardId)).toBe(true);
});

test('two runs loading one store at once: the second waits for the first (logged with its run id); nothing lost or doubled', async () => {
  const db = path.join(root, 'db-at-once');
  const runA = await Promise.all([0, 1, 2].map((i) => shard('run-a', i, `at-once-${i}`, 25, 10 + i)));
  const runB = await Promise.all([0, 1, 2].map((i) => shard('run-b', i, `at-once-${i}`, 25, 20 + i)));
  const lines: Record<string, unknown>[] = [];
  const logger = makeLogger({ json: true, write: (l) => lines.push(JSON.parse(l)) });
  await Promise.all([...runA, ...runB].map((s) => load(db, s, { lease: { logger, pollMs: 20, waitMs: 120_000 } })));
  const byId = await rowsById(db);
  expect(byId.size).toBe(75);
  expect([...byId.values()].every((shards) => shards.length === 1)).toBe(true);
  const waits = lines.filter((l) => l.message === 'store busy: waiting for another writer to release the lease');
  expect(waits.length).toBeGreaterThan(0);
  for (const w of waits) expect(w.holder).toBe(w.writer === 'run-a' ? 'run-b' : 'run-a');
  expect((await readWriterLease(db))?.holders).toEqual([]);
});

test('a second run refused at once (no wait) names the holder and writes nothing', async () => {
  const db = path.join(root, 'db-refused');
  const a = await shard('run-a', 3, 'refused', 10, 30);
  const c = await shard('run-c', 3, 'refused', 10, 31);
  let refusal: unknown;
  await load(db, a, {
    hooks: {
      afterAppend: async () => {
        refusal = await load(db, c, { lease: { waitMs: 0, logger: silent } }).catch((err: unknown) => err);
      },
    },
  });
  expect(refusal).toMatchObject({ code: 'STORE_BUSY', details: { holder: 'run-a', writer: 'run-c' } });
  expect(exitCodeFor('STORE_BUSY')).toBe(1); // retried: the holder will be done
  expect([...(await rowsById(db)).values()].flat().every((s) => s === a.shardId)).toBe(true);
});

test('a store refuses another model’s shard (exit 2, not retried) unless a new table is asked for', async () => {
  const db = path.join(root, 'db-model');
  const first = await shard('run-a', 4, 'model', 10, 40);
  const other = await shard('run-b', 4, 'model-b', 10, 41, 'other-clip');
  await load(db, first);
  expect(await readStoreManifest(db)).toMatchObject({ model_id: 'synthetic', embedding_dim: DIM });

  const refused = await withStepErrorNames(() => load(db, other))(undefined).catch((err: unknown) => err);
  expect(refused).toMatchObject({ code: 'STORE_MODEL_MISMATCH', name: 'Vista.STORE_MODEL_MISMATCH' });
  expect((refused as Error).message).toMatch(/holds 16-d embeddings of model synthetic; shard run-b\/shard-00004 has 16-d embeddings of other-clip/);
  expect(exitCodeFor('STORE_MODEL_MISMATCH')).toBe(2);
  expect((await rowsById(db)).size).toBe(10);

  const replaced = await load(db, other, { newTable: true });
  expect(replaced).toMatchObject({ loadedRows: 10, skipped: false });
  const byId = await rowsById(db);
  expect([...byId.keys()].every((id) => id.startsWith('model-b-'))).toBe(true);
  expect(await readStoreManifest(db)).toMatchObject({ model_id: 'other-clip', replaced: { model_id: 'synthetic' } });
  // Now the first model is the other one.
  await expect(load(db, first)).rejects.toMatchObject({ code: 'STORE_MODEL_MISMATCH' });
});

test('a new table asked for by every load of a run, side by side: the tables are dropped once, before any of them appends', async () => {
  const db = path.join(root, 'db-new-table-side-by-side');
  await load(db, await shard('run-old', 0, 'old', 12, 50));
  const run = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => shard('run-new', i, `new-${i}`, 8, 60 + i, 'new-clip')));
  // Shard ids of one run share the writer lease: all six load at once, as the Load map runs them.
  const results = await Promise.all(run.map((s) => load(db, s, { newTable: true })));
  expect(results.map((r) => r.loadedRows)).toEqual([8, 8, 8, 8, 8, 8]);
  const byId = await rowsById(db);
  expect(byId.size).toBe(48);
  expect([...byId.keys()].every((id) => id.startsWith('new-'))).toBe(true);
  const manifest = await readStoreManifest(db);
  expect(manifest).toMatchObject({ model_id: 'new-clip', replaced: { model_id: 'synthetic' } });
  expect(manifest).not.toHaveProperty('dropping_since');
  // Every load is in the ledger: a re-run skips all six.
  expect((await Promise.all(run.map((s) => load(db, s, { newTable: true })))).every((r) => r.skipped)).toBe(true);
});

test('a replacement left half done (its load died while dropping) is finished by the next load after the takeover time', async () => {
  const db = path.join(root, 'db-drop-takeover');
  await load(db, await shard('run-x', 0, 'x', 5, 70));
  const { conditionalObject } = await import('../../lib/core/store/conditional-object');
  const { DROP_TAKEOVER_MS, storeManifestUri } = await import('../../lib/core/store/store-manifest');
  const object = conditionalObject<Record<string, unknown>>(storeManifestUri(db));
  const current = (await object.read())!;
  const stale = new Date(Date.now() - DROP_TAKEOVER_MS - 1000).toISOString();
  await object.replace({ model_id: 'y-clip', embedding_dim: DIM, created_at: stale, replaced: { model_id: 'synthetic', embedding_dim: DIM, at: stale }, dropping_since: stale }, current.version);
  const next = await load(db, await shard('run-y', 0, 'y', 5, 71, 'y-clip'));
  expect(next.loadedRows).toBe(5);
  expect([...(await rowsById(db)).keys()].every((id) => id.startsWith('y-'))).toBe(true);
  expect(await readStoreManifest(db)).not.toHaveProperty('dropping_since');
});

test('a slow drop of one load cannot remove what another load of the run appended after the replacement', async () => {
  const db = path.join(root, 'db-slow-drop');
  await load(db, await shard('run-old', 0, 'old', 6, 80));
  const { ensureStoreModel } = await import('../../lib/core/store/store-manifest');
  const newModel = { modelId: 'new-clip', embeddingDim: DIM };
  const slow = await openStore(db, { readConsistencySeconds: 0 });
  const fast = await openStore(db, { readConsistencySeconds: 0 });
  try {
    // One load's drops are slow (a big table on S3 takes minutes to delete).
    const drop = slow.connection.dropTable.bind(slow.connection);
    slow.connection.dropTable = async (...args: Parameters<typeof drop>) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return drop(...args);
    };
    const slowLoad = ensureStoreModel(slow, newModel, { newTable: true, shardId: 'run-new/shard-00000', pollMs: 20 });
    await ensureStoreModel(fast, newModel, { newTable: true, shardId: 'run-new/shard-00001', pollMs: 20 });
    // The fast load goes on and appends its rows.
    expect((await load(db, await shard('run-new', 1, 'fresh', 7, 81, 'new-clip'))).loadedRows).toBe(7);
    await slowLoad;
    expect((await rowsById(db)).size).toBe(7);
  } finally {
    slow.close();
    fast.close();
  }
});

test('a load that fails after superseding the older rows keeps its own (the only copy left), and its retry ends with one row each', async () => {
  const db = path.join(root, 'db-fail-after-supersede');
  const a = await shard('run-a', 0, 'sup', 10, 90);
  const b = await shard('run-b', 0, 'sup', 10, 91);
  await load(db, a);
  await expect(load(db, b, { hooks: { afterSupersede: () => Promise.reject(new Error('the ledger commit failed')) } })).rejects.toThrow('the ledger commit failed');
  // Run A's rows are gone; no image may be left without a row.
  const between = await rowsById(db);
  expect(between.size).toBe(10);
  expect([...between.values()].every((shards) => shards.length === 1 && shards[0] === 'run-b/shard-00000')).toBe(true);
  expect((await load(db, b)).skipped).toBe(false);
  const after = await rowsById(db);
  expect(after.size).toBe(10);
  expect([...after.values()].every((shards) => shards.length === 1 && shards[0] === 'run-b/shard-00000')).toBe(true);
});
