import { storageOptionsFor, openStore, TableName } from '../../lib/core/store/connect';
import { buildIndexes } from '../../lib/core/store/indexer';
import { loadShardResults } from '../../lib/core/store/loader';
import { searchByVector, similarTo } from '../../lib/core/store/search';
import { type LocalS3, startS3 } from '../support/s3';
import { writeSyntheticShardResults } from '../support/results';

const DIM = 32;
let s3: LocalS3;

beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3.stop();
});

test('storage options carry the endpoint override, plain http and path-style addressing', () => {
  const env = { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000', AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' };
  expect(storageOptionsFor('s3://bucket/db', env)).toEqual({
    aws_endpoint: 'http://127.0.0.1:9000',
    allow_http: 'true',
    aws_virtual_hosted_style_request: 'false',
    aws_region: 'eu-west-1',
    aws_access_key_id: 'a',
    aws_secret_access_key: 'b',
    // LanceDB's own S3 client retries as often as the SDK's (its default of 3 gave up under SlowDown).
    client_max_retries: '10',
    client_retry_timeout: '180',
  });
  expect(storageOptionsFor('s3://bucket/db', { AWS_REGION: 'us-east-1' })).toEqual({ aws_region: 'us-east-1', client_max_retries: '10', client_retry_timeout: '180' });
  expect(storageOptionsFor('/tmp/db', env)).toBeUndefined();
});

test('loads shards from S3 into a LanceDB on S3, idempotently, then indexes and searches it there', async () => {
  const bucket = await s3.bucket('vista-store');
  const dbUri = `${bucket}/db`;
  const shards = [];
  for (const i of [1, 2]) {
    const shardId = `shard-0000${i}`;
    shards.push(await writeSyntheticShardResults(`${bucket}/results/${shardId}`, { shardId, count: 80, dim: DIM, seed: i, failures: 2, partSize: 30 }));
  }
  const [a, b] = await Promise.all(shards.map((s) => loadShardResults({ dbUri, shardResultsUri: s.dir, shardId: s.shardId })));
  expect(a).toMatchObject({ loadedRows: 80, failedRows: 2, skipped: false, partsRead: 3 });
  expect(b).toMatchObject({ loadedRows: 80, failedRows: 2, skipped: false });
  expect(await loadShardResults({ dbUri, shardResultsUri: shards[0].dir, shardId: shards[0].shardId })).toMatchObject({ skipped: true });

  const report = await buildIndexes({ dbUri });
  expect(report.rows).toBe(160);
  expect(report.errorRows).toBe(4);

  const store = await openStore(dbUri);
  try {
    expect(await (await store.table(TableName.images))!.countRows()).toBe(160);
    const target = shards[1].rows[5];
    const similar = await similarTo(store, target.imageId, { k: 5 });
    expect(similar.results).toHaveLength(5);
    expect(similar.results.map((r) => r.imageId)).not.toContain(target.imageId);
    const self = await searchByVector(store, shards[1].embeddings[5], { k: 1 });
    expect(self.results[0].imageId).toBe(target.imageId);
  } finally {
    store.close();
  }
});
