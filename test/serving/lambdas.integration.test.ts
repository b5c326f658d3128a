/**
 * The real-time Lambdas' handlers, run against a real `vista serve` (tiny model) over HTTP and a
 * local S3-compatible server: the API answers what the endpoint answers and refuses malformed
 * requests itself; the upload trigger writes a result or an error record for every upload and
 * hands back, for redelivery, what it could not finish.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelError } from '@aws-sdk/client-sagemaker-runtime';
import { exists, listNames, readJson, writeAtomic } from '../../lib/core/io/location';
import { silentLogger } from '../../lib/core/log';
import { createWorker, type Worker } from '../../lib/core/pipeline/worker';
import { parseWorkerConfig } from '../../lib/core/pipeline/worker-config';
import { imageIdFromUri } from '../../lib/core/image-id';
import { makeEnrichService } from '../../lib/core/serving/enrich-service';
import { type InferenceServer, startInferenceServer } from '../../lib/core/serving/http-server';
import { httpInferenceClient, sagemakerInferenceClient } from '../../lib/core/serving/inference-client';
import type { EnrichResult } from '../../lib/core/serving/protocol';
import { REALTIME_LAMBDA_ENV } from '../../lib/core/serving/serving-env';
import { uploadedUris } from '../../lib/core/serving/upload-step';
import { TableName, openStore } from '../../lib/core/store/connect';
import { searchByVector } from '../../lib/core/store/search';
import { makeIngestHandler } from '../../lambdas/realtime-ingest';
import { ingestRealtime } from '../../lib/core/serving/realtime-ingest';
import { makeEmfEmitter } from '../../lib/core/metrics';
import type { IngestMetric } from '../../lib/core/metrics-names';
import { makeApiHandler } from '../../lambdas/api-enrich';
import { makeUploadHandler } from '../../lambdas/upload-enrich';
import { writeFixtureImages, type FixtureImage } from '../support/fixtures';
import { TINY_MODEL_DIR } from '../support/models';
import { startS3, type LocalS3 } from '../support/s3';

let tmp: string;
let s3: LocalS3;
let worker: Worker;
let server: InferenceServer;
let fixtures: FixtureImage[];
let uploads: string;
let results: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-rt-'));
  s3 = await startS3();
  uploads = await s3.bucket('uploads');
  results = `${await s3.bucket('work')}/realtime/results`;
  fixtures = await writeFixtureImages(path.join(tmp, 'images'));
  worker = await createWorker(parseWorkerConfig({ model: TINY_MODEL_DIR, artifacts: path.join(tmp, 'artifacts') }), silentLogger);
  server = await startInferenceServer(makeEnrichService(worker, { allowedUriPrefixes: [`${uploads}/uploads/`] }), { port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await server?.close();
  await worker?.close();
  await s3?.stop();
  await fs.rm(tmp, { recursive: true, force: true });
});

const fixture = (name: string) => fixtures.find((f) => f.name === name)!;
const s3Event = (...keys: string[]) =>
  JSON.stringify({ Records: keys.map((key) => ({ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'uploads' }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+') } } })) });

describe('API Lambda', () => {
  const api = makeApiHandler(() => httpInferenceClient(server.url), silentLogger);

  test('JSON request → 200 with the enrichment', async () => {
    const bytes = await fs.readFile(fixture('photo.jpg').path);
    const res = await api({ headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image_base64: bytes.toString('base64'), hotel_name: 'Alpenhof', city: 'Grindelwald' }) });
    expect(res.statusCode).toBe(200);
    const body = JSON.parse(res.body) as EnrichResult;
    expect(body.seo_filename.startsWith('alpenhof-grindelwald-')).toBe(true);
    expect(body.embedding).toHaveLength(worker.model.embedDim);
  });

  test('binary image body (API Gateway base64-encodes it) with metadata in the query string', async () => {
    const bytes = await fs.readFile(fixture('photo.webp').path);
    const res = await api({ headers: { 'content-type': 'image/webp' }, isBase64Encoded: true, body: bytes.toString('base64'), queryStringParameters: { image_id: 'api-1', include_embedding: 'false' } });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ image_id: 'api-1', format: 'webp' });
  });

  test('the endpoint’s image errors pass through; malformed requests never reach it', async () => {
    const bytes = await fs.readFile(fixture('truncated.jpg').path);
    const bad = await api({ headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image_base64: bytes.toString('base64') }) });
    expect(bad.statusCode).toBe(422);
    expect(JSON.parse(bad.body).error.code).toBe('CORRUPT_IMAGE');

    const unreachable = makeApiHandler(() => httpInferenceClient('http://127.0.0.1:9'), silentLogger);
    const malformed = await unreachable({ headers: { 'content-type': 'application/json' }, body: '{"uri": ' });
    expect(malformed.statusCode).toBe(400);
    const noBody = await unreachable({ headers: {} });
    expect(noBody.statusCode).toBe(400);
    // A well-formed request to an endpoint that is down: 503, retryable.
    const down = await unreachable({ headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uri: 's3://uploads/uploads/x.jpg' }) });
    expect(down.statusCode).toBe(503);
    expect(JSON.parse(down.body).error.code).toBe('MODEL_UNAVAILABLE');
  });
});

describe('API Lambda, POST /v1/images (enrich and store)', () => {
  const STORE = 'POST /v1/images';
  test('stores the outcome through the inbox (result or bad image), answers as asked, and the ingest loads it', async () => {
    const inbox = `${await s3.bucket('work-api')}/realtime/inbox`;
    const api = makeApiHandler(() => httpInferenceClient(server.url), silentLogger, () => inbox);
    const photo = (await fs.readFile(fixture('photo.jpg').path)).toString('base64');
    const ok = await api({ routeKey: STORE, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image_base64: photo, image_id: 'api-stored', include_embedding: false }) });
    expect(ok.statusCode).toBe(200);
    expect(JSON.parse(ok.body).embedding).toBeUndefined();

    const truncated = await fs.readFile(fixture('truncated.jpg').path);
    const bad = await api({ routeKey: STORE, headers: { 'content-type': 'image/jpeg' }, isBase64Encoded: true, body: truncated.toString('base64'), queryStringParameters: { image_id: 'api-broken' } });
    expect(bad.statusCode).toBe(422);

    const noId = await api({ routeKey: STORE, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image_base64: photo }) });
    expect([noId.statusCode, JSON.parse(noId.body).error.message]).toEqual([400, '/v1/images needs image_id (the key of the stored row)']);
    // The enrich route never stores, and says so rather than ignoring the ask.
    const wrongRoute = await api({ routeKey: 'POST /v1/enrich', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image_base64: photo, image_id: 'x', store: true }) });
    expect([wrongRoute.statusCode, JSON.parse(wrongRoute.body).error.message]).toEqual([400, 'to store the outcome in the catalog, POST /v1/images']);
    const unconfigured = makeApiHandler(() => httpInferenceClient(server.url), silentLogger, () => undefined);
    const refused = await unconfigured({ routeKey: STORE, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image_base64: photo, image_id: 'x' }) });
    expect([refused.statusCode, JSON.parse(refused.body).error.code]).toEqual([500, 'CONFIG_INVALID']);

    expect(await listNames(inbox)).toHaveLength(2);
    const db = path.join(tmp, 'db-api');
    await ingestRealtime({ inboxUri: inbox, batchesUri: inbox.replace(/inbox$/, 'batches'), dbUri: db, settleSeconds: 0 });
    const store = await openStore(db);
    try {
      const rows = await (await store.table(TableName.images))!.query().select(['image_id', 'source_uri']).toArray();
      expect(rows.map((r) => ({ ...r }))).toEqual([{ image_id: 'api-stored', source_uri: expect.stringMatching(/^inline:sha256:[0-9a-f]{64}$/) }]);
      const errors = await (await store.table(TableName.imageErrors))!.query().select(['image_id', 'error_code']).toArray();
      expect(errors.map((e) => ({ ...e }))).toEqual([{ image_id: 'api-broken', error_code: 'CORRUPT_IMAGE' }]);
    } finally {
      store.close();
    }
  });
});

describe('upload trigger Lambda', () => {
  test('writes a result per uploaded image and an error record per bad upload; URL-encoded keys decoded', async () => {
    const good = 'uploads/h-001/sea view room.jpg';
    const bad = 'uploads/h-001/notes.txt';
    await writeAtomic(`${uploads}/${good}`, await fs.readFile(fixture('photo.jpg').path));
    await writeAtomic(`${uploads}/${bad}`, await fs.readFile(fixture('notes.txt').path));
    const handler = makeUploadHandler({ getClient: () => httpInferenceClient(server.url), resultsUri: () => results }, silentLogger);

    const out = await handler({ Records: [{ messageId: 'm1', body: s3Event(good, bad) }, { messageId: 'm2', body: JSON.stringify({ Event: 's3:TestEvent' }) }] });
    expect(out.batchItemFailures).toEqual([]);
    const goodId = imageIdFromUri(`${uploads}/${good}`);
    const result = await readJson<EnrichResult>(`${results}/${goodId}.json`);
    expect(result).toMatchObject({ image_id: goodId, source_uri: `${uploads}/${good}`, format: 'jpeg' });
    const badId = imageIdFromUri(`${uploads}/${bad}`);
    expect(await readJson(`${results}/${badId}.error.json`)).toMatchObject({ image_id: badId, error_code: 'NOT_AN_IMAGE' });

    // The same key uploaded again with a real picture: the result replaces the error record.
    await writeAtomic(`${uploads}/${bad}`, await fs.readFile(fixture('photo.jpg').path));
    expect((await handler({ Records: [{ messageId: 'm4', body: s3Event(bad) }] })).batchItemFailures).toEqual([]);
    expect(await exists(`${results}/${badId}.json`)).toBe(true);
    expect(await exists(`${results}/${badId}.error.json`)).toBe(false);

    // An object outside the prefix the endpoint may read (a misrouted notification) is recorded, not fetched.
    const outside = await handler({ Records: [{ messageId: 'm3', body: s3Event('private/secret.jpg') }] });
    expect(outside.batchItemFailures).toEqual([]);
    expect(await readJson(`${results}/${imageIdFromUri(`${uploads}/private/secret.jpg`)}.error.json`)).toMatchObject({ error_code: 'REQUEST_INVALID' });
  });

  test('uploaded images become searchable: upload function → inbox on S3 → ingest function → LanceDB', async () => {
    const inbox = `${await s3.bucket('work-ingest')}/realtime/inbox`;
    const batches = inbox.replace(/inbox$/, 'batches');
    const db = path.join(tmp, 'db-realtime');
    const upload = makeUploadHandler({ getClient: () => httpInferenceClient(server.url), resultsUri: () => results, inboxUri: () => inbox }, silentLogger);
    const keys = ['uploads/h-002/pool.png', 'uploads/h-002/lobby.webp', 'uploads/h-002/broken.jpg'];
    await writeAtomic(`${uploads}/${keys[0]}`, await fs.readFile(fixture('alpha.png').path));
    await writeAtomic(`${uploads}/${keys[1]}`, await fs.readFile(fixture('photo.webp').path));
    await writeAtomic(`${uploads}/${keys[2]}`, await fs.readFile(fixture('truncated.jpg').path));
    expect((await upload({ Records: [{ messageId: 'u1', body: s3Event(...keys) }] })).batchItemFailures).toEqual([]);
    expect(await listNames(inbox)).toHaveLength(3);

    const env = { [REALTIME_LAMBDA_ENV.inboxUri]: inbox, [REALTIME_LAMBDA_ENV.batchesUri]: batches, [REALTIME_LAMBDA_ENV.dbUri]: db };
    const emf: Record<string, unknown>[] = [];
    const metrics = makeEmfEmitter<IngestMetric>((line) => emf.push(JSON.parse(line)));
    const ingest = makeIngestHandler(() => ({ ...env, AWS_LAMBDA_FUNCTION_NAME: 'vista-ingest' }), silentLogger, { settleSeconds: 0 }, metrics);
    const run = await ingest({}, { getRemainingTimeInMillis: () => 600_000 });
    expect(run.batches).toEqual([expect.objectContaining({ records: 3, rows: 2, failed: 1 })]);
    expect(await listNames(inbox)).toEqual([]);
    expect((await ingest({})).batches).toEqual([]);
    // One embedded-metric record per run: what was ingested, and how far search lags (nothing left: 0).
    expect(emf).toHaveLength(2);
    // No vector index on so small a store: both rows are searched exactly.
    expect(emf[0]).toMatchObject({ FunctionName: 'vista-ingest', RealtimeRecordsIngested: 3, RealtimeInboxOldestAgeSeconds: 0, StoreUnindexedRows: 2 });
    expect((emf[0]._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] }).CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Vista', Dimensions: [['FunctionName']] });

    const [poolId, , brokenId] = keys.map((k) => imageIdFromUri(`${uploads}/${k}`));
    const pool = await readJson<EnrichResult>(`${results}/${poolId}.json`);
    const store = await openStore(db);
    try {
      const found = await searchByVector(store, Float32Array.from(pool.embedding!), { k: 1 });
      expect(found.results[0]).toMatchObject({ imageId: poolId, seoFilename: pool.seo_filename, sourceUri: `${uploads}/${keys[0]}` });
      const errors = await (await store.table(TableName.imageErrors))!.query().select(['image_id', 'error_code']).toArray();
      expect(errors.map((e) => ({ ...e }))).toEqual([{ image_id: brokenId, error_code: 'CORRUPT_IMAGE' }]);
    } finally {
      store.close();
    }
  });

  test('hands back for redelivery what it could not finish: endpoint down, malformed notification', async () => {
    const down = makeUploadHandler({ getClient: () => httpInferenceClient('http://127.0.0.1:9'), resultsUri: () => results }, silentLogger);
    const out = await down({ Records: [{ messageId: 'a', body: s3Event('uploads/x.jpg') }, { messageId: 'b', body: 'not json' }] });
    expect(out.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['a', 'b']);
    expect(await exists(`${results}/${imageIdFromUri(`${uploads}/uploads/x.jpg`)}.json`)).toBe(false);
  });

  test('S3 notification parsing', () => {
    expect(uploadedUris(s3Event('uploads/a b+c.jpg'))).toEqual(['s3://uploads/uploads/a b+c.jpg']);
    expect(uploadedUris(JSON.stringify({ Event: 's3:TestEvent' }))).toEqual([]);
    expect(() => uploadedUris(JSON.stringify({ hello: 1 }))).toThrow('not an S3 event notification');
  });
});

describe('SageMaker client (the one AWS service mocked here)', () => {
  test('passes the container’s status and body through; a service failure is MODEL_UNAVAILABLE', async () => {
    const ok = sagemakerInferenceClient('ep', { send: async () => ({ Body: new TextEncoder().encode('{"image_id":"x"}') }) } as never);
    expect(await ok.enrich({ uri: 's3://b/k', include_embedding: false })).toEqual({ status: 200, body: { image_id: 'x' } });

    const modelError = new ModelError({ message: 'Received client error (422)', $metadata: {}, OriginalStatusCode: 422, OriginalMessage: '{"error":{"code":"CORRUPT_IMAGE","message":"bad"}}' });
    const refused = sagemakerInferenceClient('ep', { send: async () => Promise.reject(modelError) } as never);
    expect(await refused.enrich({ uri: 's3://b/k', include_embedding: false })).toEqual({ status: 422, body: { error: { code: 'CORRUPT_IMAGE', message: 'bad' } } });

    const throttled = sagemakerInferenceClient('ep', { send: async () => Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })) } as never);
    await expect(throttled.enrich({ uri: 's3://b/k', include_embedding: false })).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });
});
