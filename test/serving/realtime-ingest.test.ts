/**
 * The real-time ingest on local folders and LanceDB on disk: inbox records become rows and failure
 * records, a newer outcome of an image replaces the older one wherever it was stored (backfill
 * included), and a run stopped at any point is finished by the next one without duplicates.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as location from '../../lib/core/io/location';
import { ingestRealtime, INBOX_RECORD_INVALID, INGEST_STEPS, type RealtimeIngestOptions } from '../../lib/core/serving/realtime-ingest';
import { imageIdOfInboxName, inboxRecordName, stampOfInboxName, writeInboxRecord } from '../../lib/core/serving/realtime-inbox';
import type { EnrichResult } from '../../lib/core/serving/protocol';
import { TableName, openStore } from '../../lib/core/store/connect';
import { loadShardResults } from '../../lib/core/store/loader';
import { settleSecondsFrom } from '../../lib/core/serving/serving-env';
import { supersedeOlderShards } from '../../lib/core/store/supersede';
import { makeShardOutput } from '../../lib/core/pipeline/shard-output';
import { writeSyntheticShardResults } from '../support/results';

// The real module, with readText spied on so that one test can make a read fail.
jest.mock('../../lib/core/io/location', () => {
  const actual = jest.requireActual<typeof import('../../lib/core/io/location')>('../../lib/core/io/location');
  return { ...actual, readText: jest.fn(actual.readText) };
});

const DIM = 8;
let root: string;
let seq = 0;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-ingest-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function setup(name: string): RealtimeIngestOptions & { put: (record: Put) => Promise<void> } {
  const base = path.join(root, name);
  const options = { inboxUri: path.join(base, 'inbox'), batchesUri: path.join(base, 'batches'), dbUri: path.join(base, 'db'), settleSeconds: 0 };
  return {
    ...options,
    // Stamped in the past and in the order written, like records that have settled.
    put: async (record) => {
      const at = new Date(Date.now() - 3_600_000 + ++seq);
      if ('error' in record) {
        await writeInboxRecord(options.inboxUri, record.id, { kind: 'error', error: { image_id: record.id, source_uri: `s3://up/${record.id}`, error_code: record.error, message: 'broken', at: at.toISOString() } }, at);
      } else {
        await writeInboxRecord(options.inboxUri, record.id, { kind: 'result', result: result(record.id, record.name ?? `${record.id}-name.jpg`) }, at);
      }
    },
  };
}

type Put = { id: string; name?: string } | { id: string; error: string };

function result(id: string, seoFilename: string, dim = DIM): EnrichResult {
  const embedding = Array.from({ length: dim }, (_, i) => (i === (id.length + seq) % dim ? 1 : 0));
  return {
    image_id: id,
    source_uri: `s3://up/${id}.jpg`,
    hotel_id: 'h1',
    seo_filename: seoFilename,
    tags: ['ocean view'],
    tag_scores: [0.9],
    embedding,
    width: 640,
    height: 480,
    format: 'jpeg',
    content_sha256: 'ab'.repeat(32),
    // The backfill's synthetic shards' model: a store holds one model's embeddings.
    model_id: 'synthetic',
    taxonomy_id: 'hotel@test',
    processed_at: new Date().toISOString(),
  };
}

async function stored(db: string): Promise<{ rows: Record<string, string[]>; errors: Record<string, string[]> }> {
  const store = await openStore(db, { readConsistencySeconds: 0 });
  try {
    const group = (list: { image_id: string; v: string }[]) => {
      const out: Record<string, string[]> = {};
      for (const r of list) (out[r.image_id] ??= []).push(r.v);
      return out;
    };
    const images = await store.table(TableName.images);
    const errors = await store.table(TableName.imageErrors);
    const rows = images ? ((await images.query().select(['image_id', 'seo_filename']).toArray()) as { image_id: string; seo_filename: string }[]) : [];
    const errs = errors ? ((await errors.query().select(['image_id', 'error_code']).toArray()) as { image_id: string; error_code: string }[]) : [];
    return { rows: group(rows.map((r) => ({ image_id: r.image_id, v: r.seo_filename }))), errors: group(errs.map((r) => ({ image_id: r.image_id, v: r.error_code }))) };
  } finally {
    store.close();
  }
}

const files = async (dir: string) => fs.readdir(dir).catch(() => [] as string[]);

test('results and errors become rows and failure records; the inbox is emptied; a second run does nothing', async () => {
  const o = setup('basic');
  await o.put({ id: 'a' });
  await o.put({ id: 'b' });
  await o.put({ id: 'c', error: 'CORRUPT_IMAGE' });
  const first = await ingestRealtime(o);
  expect(first.batches).toHaveLength(1);
  expect(first.batches[0]).toMatchObject({ records: 3, rows: 2, failed: 1, resumed: false });
  expect(first.batches[0].shardId).toMatch(/^realtime\/\d{8}T\d{9}-[0-9a-f]{8}$/);
  expect(await stored(o.dbUri)).toEqual({ rows: { a: ['a-name.jpg'], b: ['b-name.jpg'] }, errors: { c: ['CORRUPT_IMAGE'] } });
  expect(await files(o.inboxUri)).toEqual([]);
  // Done: the claim is released and the batch folder removed.
  expect(await files(path.join(o.batchesUri, 'claims'))).toEqual([]);
  expect(await files(path.join(o.batchesUri, first.batches[0].batchId))).toEqual([]);

  expect((await ingestRealtime(o)).batches).toEqual([]);
  expect(await stored(o.dbUri)).toEqual({ rows: { a: ['a-name.jpg'], b: ['b-name.jpg'] }, errors: { c: ['CORRUPT_IMAGE'] } });
});

test('the latest outcome of an image wins, within a batch and across batches', async () => {
  const o = setup('latest');
  await o.put({ id: 'a', name: 'a-old.jpg' });
  await o.put({ id: 'a', name: 'a-new.jpg' });
  await o.put({ id: 'b', name: 'b-1.jpg' });
  await ingestRealtime(o);
  expect((await stored(o.dbUri)).rows).toEqual({ a: ['a-new.jpg'], b: ['b-1.jpg'] });

  // Re-uploads: b now fails, then a fails and succeeds again in one batch.
  await o.put({ id: 'b', error: 'NOT_AN_IMAGE' });
  const second = await ingestRealtime(o);
  expect(second.batches[0].superseded).toEqual({ images: 1, imageErrors: 0 });
  expect(await stored(o.dbUri)).toEqual({ rows: { a: ['a-new.jpg'] }, errors: { b: ['NOT_AN_IMAGE'] } });

  await o.put({ id: 'b', name: 'b-2.jpg' });
  await ingestRealtime(o);
  expect(await stored(o.dbUri)).toEqual({ rows: { a: ['a-new.jpg'], b: ['b-2.jpg'] }, errors: {} });
});

test('a real-time outcome replaces the backfill row of the same image', async () => {
  const o = setup('over-backfill');
  const shard = await writeSyntheticShardResults(path.join(root, 'over-backfill', 'results', 'shard-00000'), { shardId: 'run-1/shard-00000', count: 5, dim: DIM, seed: 3 });
  await loadShardResults({ dbUri: o.dbUri, shardResultsUri: shard.dir, shardId: shard.shardId });
  const replaced = shard.rows[2].imageId;
  await o.put({ id: replaced, name: 'reuploaded.jpg' });
  await ingestRealtime(o);
  const { rows } = await stored(o.dbUri);
  expect(Object.keys(rows)).toHaveLength(5);
  expect(rows[replaced]).toEqual(['reuploaded.jpg']);
  expect(Object.values(rows).every((names) => names.length === 1)).toBe(true);
});

test('a run that stops after the load is finished by the next one: no duplicates, nothing left behind', async () => {
  const o = setup('crash');
  await o.put({ id: 'old', name: 'old.jpg' });
  await ingestRealtime(o);
  await o.put({ id: 'old', name: 'new.jpg' });
  await o.put({ id: 'x' });
  await expect(ingestRealtime({ ...o, hooks: { afterLoad: () => { throw new Error('killed'); } } })).rejects.toThrow('killed');
  // Loaded, and so superseded (the loader does both before it records the load).
  expect((await stored(o.dbUri)).rows.old).toEqual(['new.jpg']);
  expect(await files(o.inboxUri)).toHaveLength(2);

  await o.put({ id: 'y' });
  const next = await ingestRealtime(o);
  expect(next.batches.map((b) => [b.resumed, b.records])).toEqual([[true, 2], [false, 1]]);
  expect((await stored(o.dbUri)).rows).toEqual({ old: ['new.jpg'], x: ['x-name.jpg'], y: ['y-name.jpg'] });
  expect(await files(o.inboxUri)).toEqual([]);
});

test.each(INGEST_STEPS)('a run killed right after step “%s” is finished by the next run: exactly one row per image', async (step) => {
  const o = setup(`crash-at-${step}`);
  // A backfill row and an earlier upload that this batch replaces, and new images.
  const shard = await writeSyntheticShardResults(path.join(root, `crash-at-${step}`, 'results', 'shard-00000'), { shardId: 'run-1/shard-00000', count: 3, dim: DIM, seed: 9 });
  await loadShardResults({ dbUri: o.dbUri, shardResultsUri: shard.dir, shardId: shard.shardId });
  const fromBackfill = shard.rows[0].imageId;
  await o.put({ id: 'up', name: 'up-1.jpg' });
  await ingestRealtime(o);
  await o.put({ id: fromBackfill, name: 'reuploaded.jpg' });
  await o.put({ id: 'up', name: 'up-2.jpg' });
  await o.put({ id: 'new' });
  await o.put({ id: 'bad', error: 'CORRUPT_IMAGE' });

  await expect(ingestRealtime({ ...o, hooks: { after: (at) => { if (at === step) throw new Error(`killed after ${at}`); } } })).rejects.toThrow(`killed after ${step}`);
  const next = await ingestRealtime(o);
  // The claim is finished by the next run (the release step is the last one that needs it).
  expect(next.batches.map((b) => b.resumed)).toEqual(step === 'release' ? [] : [true]);

  const { rows, errors } = await stored(o.dbUri);
  expect(rows).toEqual({
    [fromBackfill]: ['reuploaded.jpg'],
    [shard.rows[1].imageId]: [shard.rows[1].seoFilename],
    [shard.rows[2].imageId]: [shard.rows[2].seoFilename],
    up: ['up-2.jpg'],
    new: ['new-name.jpg'],
  });
  expect(errors).toEqual({ bad: ['CORRUPT_IMAGE'] });
  expect(await files(o.inboxUri)).toEqual([]);
  expect(await files(path.join(o.batchesUri, 'claims'))).toEqual([]);
  // And a third run finds nothing to do.
  expect((await ingestRealtime(o)).batches).toEqual([]);
});

test('a claim without its batch (a crash while building) is rebuilt from the inbox', async () => {
  const o = setup('claim-only');
  await o.put({ id: 'p' });
  const sources = await files(o.inboxUri);
  const claims = path.join(o.batchesUri, 'claims');
  await fs.mkdir(claims, { recursive: true });
  const claim = (batchId: string, names: string[]) =>
    fs.writeFile(path.join(claims, `${batchId}.json`), JSON.stringify({ batch_id: batchId, shard_id: `realtime/${batchId}`, sources: names, created_at: '2026-01-01T00:00:00Z' }));
  const batchId = '20260101T000000000-00000000';
  await claim(batchId, sources);
  const run = await ingestRealtime(o);
  expect(run.batches).toEqual([expect.objectContaining({ batchId, resumed: true, rows: 1 })]);
  expect((await stored(o.dbUri)).rows).toEqual({ p: ['p-name.jpg'] });

  // A claim whose records are all gone and whose batch was never built is released, and loads
  // nothing: an empty batch under a known shard id would replace that shard's rows.
  await claim(batchId, sources);
  expect((await ingestRealtime(o)).batches).toEqual([]);
  expect(await files(claims)).toEqual([]);
  expect((await stored(o.dbUri)).rows).toEqual({ p: ['p-name.jpg'] });
});

test('failures before any success are stored at once (no images table needed); a result later creates it', async () => {
  const o = setup('errors-first');
  await o.put({ id: 'e1', error: 'EMPTY' });
  expect((await ingestRealtime(o)).batches).toEqual([expect.objectContaining({ rows: 0, failed: 1 })]);
  expect(await stored(o.dbUri)).toEqual({ rows: {}, errors: { e1: ['EMPTY'] } });
  expect(await files(o.inboxUri)).toEqual([]);

  await o.put({ id: 'ok' });
  await ingestRealtime(o);
  expect(await stored(o.dbUri)).toEqual({ rows: { ok: ['ok-name.jpg'] }, errors: { e1: ['EMPTY'] } });
});

test('records that are not valid outcomes become failures and never block the inbox', async () => {
  const o = setup('invalid');
  const old = (ms: number) => new Date(Date.now() - 3_000_000 + ms);
  await fs.mkdir(o.inboxUri, { recursive: true });
  await fs.writeFile(path.join(o.inboxUri, inboxRecordName('garbled', old(1))), '{ not json');
  const { tags: _tags, ...noTags } = result('no-tags', 'x.jpg');
  await writeInboxRecord(o.inboxUri, 'no-tags', { kind: 'result', result: noTags as EnrichResult }, old(2));
  await writeInboxRecord(o.inboxUri, 'bad-date', { kind: 'result', result: { ...result('bad-date', 'y.jpg'), processed_at: 'yesterday' } }, old(3));
  await o.put({ id: 'ok' });
  await ingestRealtime(o);
  expect(await stored(o.dbUri)).toEqual({
    rows: { ok: ['ok-name.jpg'] },
    errors: { garbled: [INBOX_RECORD_INVALID], 'no-tags': [INBOX_RECORD_INVALID], 'bad-date': [INBOX_RECORD_INVALID] },
  });
  expect(await files(o.inboxUri)).toEqual([]);
});

test('a record that cannot be read fails the run (retried later) instead of being stored as invalid', async () => {
  const o = setup('unreadable');
  await o.put({ id: 'a', name: 'a-1.jpg' });
  await ingestRealtime(o);
  await o.put({ id: 'a', name: 'a-2.jpg' });
  // The record is there, but reading it fails as a dropped connection would.
  jest.mocked(location.readText).mockRejectedValueOnce(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
  await expect(ingestRealtime(o)).rejects.toThrow('ECONNRESET');
  expect(await stored(o.dbUri)).toEqual({ rows: { a: ['a-1.jpg'] }, errors: {} });
  expect(await files(o.inboxUri)).toHaveLength(1);

  const next = await ingestRealtime(o);
  expect(next.batches[0].resumed).toBe(true);
  expect(await stored(o.dbUri)).toEqual({ rows: { a: ['a-2.jpg'] }, errors: {} });
});

test('records younger than the settle time stay for the next run; batches are bounded', async () => {
  const o = setup('settle');
  await o.put({ id: 'a' });
  await o.put({ id: 'b' });
  await o.put({ id: 'c' });
  await writeInboxRecord(o.inboxUri, 'fresh', { kind: 'result', result: result('fresh', 'fresh.jpg') });
  const run = await ingestRealtime({ ...o, settleSeconds: 600, maxRecordsPerBatch: 2 });
  expect(run.batches.map((b) => b.records)).toEqual([2, 1]);
  expect(run.oldestPendingSeconds).toBeLessThan(60);
  expect(Object.keys((await stored(o.dbUri)).rows).sort()).toEqual(['a', 'b', 'c']);
  expect(await files(o.inboxUri)).toHaveLength(1);
});

test('a result whose embedding width differs from the store’s is kept as a failure, not a poison batch', async () => {
  const o = setup('width');
  await o.put({ id: 'a' });
  await ingestRealtime(o);
  // Alone in its batch: the store's width still decides.
  await writeInboxRecord(o.inboxUri, 'wide', { kind: 'result', result: result('wide', 'wide.jpg', DIM * 2) }, new Date(Date.now() - 60_000));
  await ingestRealtime(o);
  await o.put({ id: 'b' });
  await ingestRealtime(o);
  expect(await stored(o.dbUri)).toEqual({ rows: { a: ['a-name.jpg'], b: ['b-name.jpg'] }, errors: { wide: [INBOX_RECORD_INVALID] } });
});

test('a result of another model than the store’s is kept as a failure, not a refused (poison) batch', async () => {
  const o = setup('model');
  await o.put({ id: 'a' });
  await ingestRealtime(o);
  await writeInboxRecord(o.inboxUri, 'other', { kind: 'result', result: { ...result('other', 'other.jpg'), model_id: 'another-clip' } }, new Date(Date.now() - 60_000));
  const run = await ingestRealtime(o);
  expect(run.batches).toEqual([expect.objectContaining({ rows: 0, failed: 1 })]);
  expect(await stored(o.dbUri)).toEqual({ rows: { a: ['a-name.jpg'] }, errors: { other: [INBOX_RECORD_INVALID] } });
});

test('inbox names sort by time, are flat whatever the image id holds, and give the id back', () => {
  const early = inboxRecordName('run-1/shard 7', new Date('2026-12-01T10:00:00.000Z'));
  const late = inboxRecordName('a', new Date('2026-12-01T10:00:00.001Z'));
  expect(early < late).toBe(true);
  expect(early).toMatch(/^20261201T100000000-[0-9a-f]{8}-run-1%2Fshard%207\.json$/);
  expect(imageIdOfInboxName(early)).toBe('run-1/shard 7');
  expect(imageIdOfInboxName('notes.txt')).toBeUndefined();
});

test('supersede only removes older shards: overlapping runs keep the newer outcome in any interleaving', async () => {
  const base = path.join(root, 'overlap');
  const [older, newer] = ['realtime/20261201T100000000-aaaaaaaa', 'realtime/20261201T100500000-bbbbbbbb'];
  const load = async (db: string, shardId: string, seoFilename: string) => {
    const dir = path.join(base, db, shardId);
    const output = makeShardOutput(dir, DIM);
    const r = result('z', seoFilename);
    const row = { imageId: 'z', sourceUri: r.source_uri, seoFilename, tags: r.tags, tagScores: r.tag_scores, embedding: Float32Array.from(r.embedding!), width: 1, height: 1, format: 'jpeg' as const, contentSha256: 'x', modelId: 'm', taxonomyId: 't', processedAt: new Date() };
    const marker = await output.writePart(0, 0, [row], [], { part_size: 1, model_id: 'm', taxonomy_id: 't' });
    await output.finish([marker], { shard: shardId, model_id: 'm', taxonomy_id: 't', embedding_dim: DIM, started_at: '', finished_at: '', resumed_parts: 0, timings_ms: {}, images_per_second: 0 });
    await loadShardResults({ dbUri: path.join(base, db), shardResultsUri: dir, shardId });
  };
  const supersede = (db: string, shardId: string) => supersedeOlderShards(path.join(base, db), { shardId, orderedPrefix: 'realtime/' }, ['z']);
  const steps = {
    loadOlder: (db: string) => load(db, older, 'older.jpg'),
    loadNewer: (db: string) => load(db, newer, 'newer.jpg'),
    supersedeOlder: (db: string) => supersede(db, older),
    supersedeNewer: (db: string) => supersede(db, newer),
  };
  // Each run loads, then supersedes; the two runs interleave in every way that keeps that order.
  const orders: (keyof typeof steps)[][] = [
    ['loadOlder', 'supersedeOlder', 'loadNewer', 'supersedeNewer'],
    ['loadNewer', 'supersedeNewer', 'loadOlder', 'supersedeOlder'],
    ['loadOlder', 'loadNewer', 'supersedeOlder', 'supersedeNewer'],
    ['loadOlder', 'loadNewer', 'supersedeNewer', 'supersedeOlder'],
    ['loadNewer', 'loadOlder', 'supersedeOlder', 'supersedeNewer'],
    ['loadNewer', 'loadOlder', 'supersedeNewer', 'supersedeOlder'],
  ];
  for (const [i, order] of orders.entries()) {
    for (const step of order) await steps[step](`db-${i}`);
    expect([order, (await stored(path.join(base, `db-${i}`))).rows]).toEqual([order, { z: ['newer.jpg'] }]);
  }
});

test('a batch built before the store had an images table is rebuilt when the table appears with another width', async () => {
  const o = setup('width-race');
  await o.put({ id: 'w', name: 'w.jpg' });
  // The batch is built (width 8 from its own result) but the run stops before loading...
  await expect(ingestRealtime({ ...o, hooks: { beforeLoad: () => { throw new Error('killed'); } } })).rejects.toThrow('killed');
  // ...and meanwhile a backfill creates the images table with width 16.
  const shard = await writeSyntheticShardResults(path.join(root, 'width-race', 'results', 'shard-00000'), { shardId: 'run-1/shard-00000', count: 2, dim: DIM * 2, seed: 5 });
  await loadShardResults({ dbUri: o.dbUri, shardResultsUri: shard.dir, shardId: shard.shardId });
  const next = await ingestRealtime(o);
  expect(next.batches).toEqual([expect.objectContaining({ resumed: true, rows: 0, failed: 1 })]);
  expect((await stored(o.dbUri)).errors).toEqual({ w: [INBOX_RECORD_INVALID] });
});

test('the settle time from the environment must be whole seconds', () => {
  expect(settleSecondsFrom({})).toBeUndefined();
  expect(settleSecondsFrom({ VISTA_REALTIME_SETTLE_SECONDS: '180' })).toBe(180);
  expect(() => settleSecondsFrom({ VISTA_REALTIME_SETTLE_SECONDS: 'soon' })).toThrow(/whole number of seconds/);
});

test('a run out of time leaves the rest in the inbox and says how old the oldest record is', async () => {
  const o = setup('time');
  await o.put({ id: 'a' });
  const run = await ingestRealtime({ ...o, remainingMs: () => 1_000 });
  expect(run).toEqual({ batches: [], leftInInbox: 'time', oldestPendingSeconds: expect.any(Number), unindexedRows: 0 });
  expect(run.oldestPendingSeconds).toBeGreaterThanOrEqual(3_500);
  expect(stampOfInboxName('20261201T100000123-0a1b2c3d-x.json')).toEqual(new Date('2026-12-01T10:00:00.123Z'));
  expect(stampOfInboxName('notes.json')).toBeUndefined();
});
