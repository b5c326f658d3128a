/**
 * The S3 commit path production uses, under concurrency: LanceDB on the local S3 server behind the
 * conditional-write proxy (which enforces If-None-Match / If-Match as AWS S3 does; s3rver alone
 * ignores them), with the in-process commit lock OFF. Concurrent commits, shard loads, the
 * real-time ingest, compaction and index building at once: nothing lost, nothing doubled.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { startConditionalS3Proxy, type ConditionalS3Proxy } from '../../lib/core/io/conditional-s3-proxy';
import { resetS3Clients } from '../../lib/core/io/s3';
import { makeLogger } from '../../lib/core/log';
import { ingestRealtime } from '../../lib/core/serving/realtime-ingest';
import { writeInboxRecord } from '../../lib/core/serving/realtime-inbox';
import { CONDITIONAL_WRITES_ENV, needsProcessCommitLock } from '../../lib/core/store/commit-lock';
import { TableName, openStore, storageOptionsFor } from '../../lib/core/store/connect';
import { buildIndexes } from '../../lib/core/store/indexer';
import { loadShardResults } from '../../lib/core/store/loader';
import { type LocalS3, startS3 } from '../support/s3';
import { writeSyntheticShardResults } from '../support/results';

const DIM = 16;
let root: string;
let s3: LocalS3;
let proxy: ConditionalS3Proxy;
let bucket: string;
const saved = { endpoint: process.env.AWS_ENDPOINT_URL_S3, declared: process.env[CONDITIONAL_WRITES_ENV] };
const silent = makeLogger({ json: true, write: () => {} });

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-conditional-'));
  s3 = await startS3();
  bucket = await s3.bucket('conditional');
  proxy = await startConditionalS3Proxy({ upstream: s3.endpoint });
  // LanceDB and the AWS SDK both go through the proxy; the endpoint is declared conditional.
  process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
  process.env[CONDITIONAL_WRITES_ENV] = 'true';
  resetS3Clients();
});
afterAll(async () => {
  process.env.AWS_ENDPOINT_URL_S3 = saved.endpoint;
  if (saved.declared === undefined) delete process.env[CONDITIONAL_WRITES_ENV];
  else process.env[CONDITIONAL_WRITES_ENV] = saved.declared;
  resetS3Clients();
  await proxy?.stop();
  await s3?.stop();
  await fs.rm(root, { recursive: true, force: true });
});

test('the in-process commit lock is off for this endpoint', () => {
  expect(needsProcessCommitLock(`${bucket}/db`, proxy.endpoint)).toBe(false);
});

test('concurrent LanceDB commits from separate connections: every row lands once, the losers retried on 412', async () => {
  const uri = `${bucket}/raw`;
  const options = { storageOptions: storageOptionsFor(uri) };
  const first = await lancedb.connect(uri, options);
  await (await first.createTable('t', [{ writer: -1, n: -1 }])).close();
  const refusedBefore = proxy.refused.ifNoneMatch;
  const writers = 3;
  const commitsEach = 3;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const db = await lancedb.connect(uri, options);
      const table = await db.openTable('t');
      for (let n = 0; n < commitsEach; n++) await table.add([{ writer: w, n }]);
      table.close();
      db.close();
    }),
  );
  const table = await first.openTable('t');
  const rows = (await table.query().toArray()) as { writer: number; n: number }[];
  expect(rows).toHaveLength(writers * commitsEach + 1);
  expect(new Set(rows.map((r) => `${r.writer}/${r.n}`)).size).toBe(rows.length);
  // Lance committed every version with If-None-Match: * and lost races were refused, not overwritten.
  expect(proxy.accepted).toBeGreaterThan(writers * commitsEach);
  // eslint-disable-next-line no-console
  console.info(`conditional proxy: ${proxy.refused.ifNoneMatch - refusedBefore} commit(s) refused with 412 and retried by LanceDB`);
  table.close();
  first.close();
});

test('shard loads, the real-time ingest, compaction and index building at once: nothing lost or doubled', async () => {
  const dbUri = `${bucket}/db`;
  const shards = await Promise.all(
    [0, 1, 2].map((i) =>
      writeSyntheticShardResults(path.join(root, 'results', `shard-${i}`), { shardId: `run-a/shard-0000${i}`, count: 30, dim: DIM, seed: i + 1, failures: 1, partSize: 30 }),
    ),
  );
  // A first load, so that compaction has something to do from the start.
  await loadShardResults({ dbUri, shardResultsUri: shards[0].dir, shardId: shards[0].shardId, lease: { logger: silent } });

  const inboxUri = path.join(root, 'inbox');
  const old = new Date(Date.now() - 3_600_000);
  // Uploads: one replaces an image of shard 1 (the latest outcome wins), two are new.
  const uploads = [shards[1].rows[0].imageId, 'upload-1', 'upload-2'];
  for (const [i, id] of uploads.entries()) {
    const embedding = Array.from({ length: DIM }, (_, j) => (j === i ? 1 : 0));
    const result = {
      image_id: id, source_uri: `s3://up/${id}.jpg`, hotel_id: 'h', seo_filename: `${id}-upload.jpg`, tags: ['pool'], tag_scores: [0.9], embedding,
      width: 1, height: 1, format: 'jpeg', content_sha256: 'ab'.repeat(32), model_id: 'synthetic', taxonomy_id: 't', processed_at: new Date().toISOString(),
    };
    await writeInboxRecord(inboxUri, id, { kind: 'result', result }, new Date(old.getTime() + i));
  }

  const lease = { waitMs: 120_000, pollMs: 50, logger: silent };
  const load = (i: number) => loadShardResults({ dbUri, shardResultsUri: shards[i].dir, shardId: shards[i].shardId, lease });
  const results = await Promise.all([
    load(1),
    load(2),
    load(2), // the same shard twice at once
    ingestRealtime({ inboxUri, batchesUri: path.join(root, 'batches'), dbUri, settleSeconds: 0, lease }),
    buildIndexes({ dbUri, minRowsForVectorIndex: 1_000_000, lease }),
  ]);
  // The ingest ran either before shard 1's load (then the backfill row is the latest) or after it.
  void results;

  const store = await openStore(dbUri, { readConsistencySeconds: 0 });
  try {
    const rows = (await (await store.table(TableName.images))!.query().select(['image_id', 'seo_filename']).toArray()) as { image_id: string; seo_filename: string }[];
    const ids = rows.map((r) => r.image_id);
    const expected = new Set([...shards.flatMap((s) => s.rows.map((r) => r.imageId)), 'upload-1', 'upload-2']);
    expect(new Set(ids).size).toBe(ids.length); // nothing doubled
    expect(new Set(ids)).toEqual(expected); // nothing lost
    const errors = (await (await store.table(TableName.imageErrors))!.query().select(['image_id']).toArray()) as { image_id: string }[];
    expect(errors.map((e) => e.image_id).sort()).toEqual(shards.flatMap((s) => s.failedIds).sort());
  } finally {
    store.close();
  }
  // Indexes built next to it all, and again after: the store is consistent.
  const report = await buildIndexes({ dbUri, minRowsForVectorIndex: 1_000_000, lease });
  expect(report.rows).toBe(3 * 30 + 2);
});
