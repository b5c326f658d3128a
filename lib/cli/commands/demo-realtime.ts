/**
 * The demo's real-time part, the AWS chain run locally: the API Lambda's handler → the inference
 * server (`vista serve`, SageMaker's contract) on a free port → the same worker stages as the
 * backfill; then an upload through the upload Lambda (on a local S3-compatible server) and the
 * ingest Lambda into the backfill's LanceDB, where the new picture is then searchable.
 */
import { promises as fs } from 'node:fs';
import type { LocalS3 } from '../../core/io/local-s3';
import { writeAtomic } from '../../core/io/location';
import { imageIdFromUri } from '../../core/image-id';
import type { Logger } from '../../core/log';
import { createWorker } from '../../core/pipeline/worker';
import { parseWorkerConfig } from '../../core/pipeline/worker-config';
import { makeEnrichService } from '../../core/serving/enrich-service';
import { startInferenceServer } from '../../core/serving/http-server';
import { httpInferenceClient } from '../../core/serving/inference-client';
import { ingestRealtime } from '../../core/serving/realtime-ingest';
import { openStore } from '../../core/store/connect';
import { similarTo } from '../../core/store/search';
import { makeApiHandler } from '../../../lambdas/api-enrich';
import { makeUploadHandler } from '../../../lambdas/upload-enrich';

export interface RealtimeDemoOptions {
  modelUri: string;
  picture: string;
  broken: string;
  hotelName: string;
  city: string;
  /** The backfill's LanceDB: the uploaded picture is ingested there. */
  dbUri: string;
  logger: Logger;
  print: (line: string) => void;
}

const UPLOADS_PREFIX = 's3://uploads/uploads/';

export async function runRealtimeDemo(options: RealtimeDemoOptions): Promise<void> {
  const { print } = options;
  // Every resource is released whatever fails: the local S3 server also points this process's
  // AWS environment at itself until it stops.
  const s3 = await startLocalS3(print);
  try {
    const worker = await createWorker(parseWorkerConfig({ model: options.modelUri }), options.logger);
    try {
      const service = makeEnrichService(worker, { allowedUriPrefixes: s3 ? [UPLOADS_PREFIX] : [] });
      const server = await startInferenceServer(service, { port: 0, host: '127.0.0.1' });
      try {
        await requestsAndUpload(server.url, s3, options);
      } finally {
        await server.close();
      }
    } finally {
      await worker.close();
    }
  } finally {
    await s3?.stop();
  }
}

async function requestsAndUpload(serverUrl: string, s3: LocalS3 | undefined, options: RealtimeDemoOptions): Promise<void> {
  const { print } = options;
  print(`inference server (vista serve) at ${serverUrl}; API Lambda handler in front of it`);
  const api = makeApiHandler(() => httpInferenceClient(serverUrl));
  for (const file of [options.picture, options.broken]) {
    const started = performance.now();
    const res = await api({
      headers: { 'content-type': 'application/octet-stream' },
      isBase64Encoded: true,
      body: (await fs.readFile(file)).toString('base64'),
      queryStringParameters: { hotel_name: options.hotelName, city: options.city, include_embedding: 'false' },
    });
    const ms = Math.round(performance.now() - started);
    const body = JSON.parse(res.body) as { seo_filename?: string; tags?: string[]; error?: { code: string; message: string } };
    const name = file.split('/').slice(-2).join('/');
    if (res.statusCode === 200) print(`  POST /v1/enrich ${name} → ${res.statusCode} in ${ms} ms: ${body.seo_filename}  [${body.tags!.slice(0, 4).join(', ')}]`);
    else print(`  POST /v1/enrich ${name} → ${res.statusCode} ${body.error!.code}: ${body.error!.message}`);
  }
  if (s3) await uploadAndSearch(s3, serverUrl, options);
}

/** s3rver is a development dependency: without it (a production install) the upload part is skipped. */
async function startLocalS3(print: (line: string) => void): Promise<LocalS3 | undefined> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startS3 } = require('../../core/io/local-s3') as typeof import('../../core/io/local-s3');
    return await startS3();
  } catch (err) {
    print(`  (upload part skipped: no local S3 server: ${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

async function uploadAndSearch(s3: LocalS3, serverUrl: string, options: RealtimeDemoOptions): Promise<void> {
  const { print } = options;
  const uploads = await s3.bucket('uploads');
  const work = await s3.bucket('work');
  const key = 'uploads/h-001/new-suite.jpg';
  const uri = `${uploads}/${key}`;
  await writeAtomic(uri, await fs.readFile(options.picture));
  print(`upload ${uri} (a local S3-compatible server) → upload Lambda → ingest Lambda → LanceDB`);

  const results = `${work}/realtime/results`;
  const inbox = `${work}/realtime/inbox`;
  const upload = makeUploadHandler({ getClient: () => httpInferenceClient(serverUrl), resultsUri: () => results, inboxUri: () => inbox }, options.logger);
  const notification = { Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'uploads' }, object: { key } } }] };
  const { batchItemFailures } = await upload({ Records: [{ messageId: 'demo-1', body: JSON.stringify(notification) }] });
  if (batchItemFailures.length > 0) throw new Error('the demo upload was not enriched (see the log above)');
  const imageId = imageIdFromUri(uri);
  print(`  result ${results}/${imageId}.json, inbox record in ${inbox}/`);

  // The deployed ingest waits for records to settle (see docs/store.md); here there is nothing in flight.
  const run = await ingestRealtime({ inboxUri: inbox, batchesUri: `${work}/realtime/batches`, dbUri: options.dbUri, settleSeconds: 0, logger: options.logger });
  print(`  ingest: ${run.batches.reduce((n, b) => n + b.rows, 0)} row into ${options.dbUri} (shard ${run.batches[0]?.shardId})`);

  const store = await openStore(options.dbUri, { readConsistencySeconds: 0 });
  try {
    const { results: similar } = await similarTo(store, imageId, { k: 3 });
    const same = (r: { sourceUri: string }) => (r.sourceUri === options.picture ? ', the same picture in the catalog' : '');
    print(`  similar to the upload: ${similar.map((r) => `${r.seoFilename} (${r.score.toFixed(3)}${same(r)})`).join(', ')}`);
  } finally {
    store.close();
  }
}
