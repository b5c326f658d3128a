/**
 * The upload path on SageMaker asynchronous inference (`uploadInference: 'async'`), against a real
 * `vista serve` (tiny model, random weights: the tags mean nothing) and the local S3 server.
 * SageMaker itself cannot run here; its part is played as documented: read the InputLocation
 * object, POST its bytes to /invocations with the request's content type and custom attributes,
 * write a 2xx answer under the output path (anything else under the failure path) and send the
 * success or error notification. The completion handler must then write exactly the records the
 * synchronous upload handler writes for the same uploads.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvokeEndpointAsyncCommand } from '@aws-sdk/client-sagemaker-runtime';
import { makeCompletionHandler } from '../../lambdas/upload-complete';
import { makeAsyncSubmitHandler, makeUploadHandler } from '../../lambdas/upload-enrich';
import { imageIdFromUri } from '../../lib/core/image-id';
import { joinUri, listNames, readBytes, readJson, writeAtomic } from '../../lib/core/io/location';
import { silentLogger } from '../../lib/core/log';
import { createWorker, type Worker } from '../../lib/core/pipeline/worker';
import { parseWorkerConfig } from '../../lib/core/pipeline/worker-config';
import { ASYNC_INPUT_CONTENT_TYPE, type AsyncInferenceSubmitter, sagemakerAsyncSubmitter, statusOfFailure } from '../../lib/core/serving/async-upload';
import { makeEnrichService } from '../../lib/core/serving/enrich-service';
import { type InferenceServer, startInferenceServer } from '../../lib/core/serving/http-server';
import { httpInferenceClient } from '../../lib/core/serving/inference-client';
import { writeFixtureImages, type FixtureImage } from '../support/fixtures';
import { TINY_MODEL_DIR } from '../support/models';
import { startS3, type LocalS3 } from '../support/s3';

type Json = Record<string, unknown>;

let tmp: string;
let s3: LocalS3;
let worker: Worker;
let server: InferenceServer;
let fixtures: FixtureImage[];
let uploads: string;
let work: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-async-'));
  s3 = await startS3();
  uploads = await s3.bucket('uploads');
  work = await s3.bucket('work');
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
  JSON.stringify({ Records: keys.map((key) => ({ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'uploads' }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/') } } })) });

/** SageMaker's asynchronous inference, as documented, in front of the real server; returns the notifications it would publish. */
function fakeAsyncEndpoint(outputUri: string, failureUri: string): { submitter: AsyncInferenceSubmitter; run(): Promise<string[]> } {
  const queued: { uri: string; customAttributes: string }[] = [];
  return {
    // The real submitter, so that the request SageMaker receives is the one production sends.
    submitter: sagemakerAsyncSubmitter('vista-async', {
      send: async (command: InvokeEndpointAsyncCommand) => {
        expect(command.input.ContentType).toBe(ASYNC_INPUT_CONTENT_TYPE);
        queued.push({ uri: command.input.InputLocation!, customAttributes: command.input.CustomAttributes! });
        return { InferenceId: `inf-${queued.length}`, OutputLocation: joinUri(outputUri, `inf-${queued.length}.out`) };
      },
    } as never),
    async run() {
      const notifications: string[] = [];
      for (const [i, request] of queued.entries()) {
        const res = await fetch(`${server.url}/invocations`, {
          method: 'POST',
          headers: { 'content-type': ASYNC_INPUT_CONTENT_TYPE, 'x-amzn-sagemaker-custom-attributes': request.customAttributes },
          body: await readBytes(request.uri),
        });
        const text = await res.text();
        const requestParameters = { contentType: ASYNC_INPUT_CONTENT_TYPE, endpointName: 'vista-async', inputLocation: request.uri };
        const base = { awsRegion: 'eu-west-1', eventTime: new Date().toISOString(), inferenceId: `inf-${i + 1}`, eventVersion: '1.0', eventSource: 'aws:sagemaker', eventName: 'InferenceResult', requestParameters };
        if (res.ok) {
          const outputLocation = joinUri(outputUri, `inf-${i + 1}.out`);
          await writeAtomic(outputLocation, text);
          notifications.push(JSON.stringify({ ...base, invocationStatus: 'Completed', responseParameters: { contentType: 'application/json', outputLocation } }));
        } else {
          const failureLocation = joinUri(failureUri, `inf-${i + 1}-error.out`);
          await writeAtomic(failureLocation, text);
          const kind = res.status < 500 ? 'ClientError: Received client error' : 'ModelError: Received server error';
          notifications.push(JSON.stringify({ ...base, invocationStatus: 'Failed', failureReason: `${kind} (${res.status}) from model. See the logs.`, responseParameters: { contentType: 'application/json', failureLocation } }));
        }
      }
      return notifications;
    },
  };
}

/** Every record under a results prefix and an inbox, by image id, with write and processing times removed. */
async function recordsOf(results: string, inbox: string): Promise<{ results: Record<string, Json>; inbox: Json[] }> {
  const out: Record<string, Json> = {};
  for (const name of await listNames(results)) out[name] = dropTimes(await readJson<Json>(joinUri(results, name)));
  const inboxRecords: Json[] = [];
  for (const name of (await listNames(inbox)).sort()) inboxRecords.push(dropTimes(await readJson<Json>(joinUri(inbox, name))));
  inboxRecords.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  return { results: out, inbox: inboxRecords };
}
function dropTimes(value: Json): Json {
  const { at: _at, processed_at: _processedAt, ...rest } = value;
  for (const [key, inner] of Object.entries(rest)) if (inner && typeof inner === 'object' && !Array.isArray(inner)) rest[key] = dropTimes(inner as Json);
  return rest;
}

describe('asynchronous upload path', () => {
  test('submit → SageMaker async → completion writes the same result, error and inbox records as the synchronous path', async () => {
    const keys = ['uploads/h-7/sea view.jpg', 'uploads/h-7/pool.png', 'uploads/h-7/notes.txt', 'uploads/h-7/broken.jpg'];
    await writeAtomic(`${uploads}/${keys[0]}`, await fs.readFile(fixture('photo.jpg').path));
    await writeAtomic(`${uploads}/${keys[1]}`, await fs.readFile(fixture('alpha.png').path));
    await writeAtomic(`${uploads}/${keys[2]}`, await fs.readFile(fixture('notes.txt').path));
    await writeAtomic(`${uploads}/${keys[3]}`, await fs.readFile(fixture('truncated.jpg').path));
    const event = { Records: [{ messageId: 'm1', body: s3Event(keys[0], keys[1]) }, { messageId: 'm2', body: s3Event(keys[2], keys[3]) }] };

    const sync = { results: `${work}/sync/results`, inbox: `${work}/sync/inbox` };
    const syncHandler = makeUploadHandler({ getClient: () => httpInferenceClient(server.url), resultsUri: () => sync.results, inboxUri: () => sync.inbox }, silentLogger);
    expect((await syncHandler(event)).batchItemFailures).toEqual([]);

    const endpoint = fakeAsyncEndpoint(`${work}/realtime/async/output`, `${work}/realtime/async/failures`);
    const submit = makeAsyncSubmitHandler({ getSubmitter: () => endpoint.submitter }, silentLogger);
    expect((await submit(event)).batchItemFailures).toEqual([]);
    const notifications = await endpoint.run();
    expect(notifications).toHaveLength(4);

    const asyncTarget = { results: `${work}/async/results`, inbox: `${work}/async/inbox` };
    const complete = makeCompletionHandler({ resultsUri: () => asyncTarget.results, inboxUri: () => asyncTarget.inbox }, silentLogger);
    const out = await complete({ Records: notifications.map((body, i) => ({ messageId: `n${i}`, body })) });
    expect(out.batchItemFailures).toEqual([]);

    const expected = await recordsOf(sync.results, sync.inbox);
    const actual = await recordsOf(asyncTarget.results, asyncTarget.inbox);
    // Two results, two error records, four inbox records: and the asynchronous ones are the same.
    const id = (key: string) => imageIdFromUri(`${uploads}/${key}`);
    expect(Object.keys(expected.results).sort()).toEqual([`${id(keys[0])}.json`, `${id(keys[1])}.json`, `${id(keys[2])}.error.json`, `${id(keys[3])}.error.json`].sort());
    expect(expected.results[`${id(keys[0])}.json`]).toMatchObject({ image_id: id(keys[0]), source_uri: `${uploads}/${keys[0]}` });
    expect(expected.results[`${id(keys[2])}.error.json`]).toMatchObject({ error_code: 'NOT_AN_IMAGE', source_uri: `${uploads}/${keys[2]}` });
    expect(expected.inbox).toHaveLength(4);
    expect(actual).toEqual(expected);
  });

  test('a server failure or timeout is handed back for redelivery; a malformed notification too; nothing is written', async () => {
    const uri = `${uploads}/uploads/h-8/room.jpg`;
    const target = { results: `${work}/retry/results`, inbox: `${work}/retry/inbox` };
    const complete = makeCompletionHandler({ resultsUri: () => target.results, inboxUri: () => target.inbox }, silentLogger);
    const failed = (failureReason?: string) => JSON.stringify({ invocationStatus: 'Failed', ...(failureReason ? { failureReason } : {}), requestParameters: { inputLocation: uri } });
    const out = await complete({
      Records: [
        { messageId: 'e500', body: failed('ModelError: Received server error (503) from model.') },
        { messageId: 'timeout', body: failed('Inference request timed out') },
        { messageId: 'junk', body: '{"hello": 1}' },
      ],
    });
    expect(out.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['e500', 'junk', 'timeout']);
    expect(await listNames(target.results)).toEqual([]);
    expect(await listNames(target.inbox)).toEqual([]);
  });

  test('a client failure without a failure object still becomes an error record; a failed submission is retried', async () => {
    const uri = `${uploads}/uploads/h-9/room.jpg`;
    const target = { results: `${work}/client/results` };
    const complete = makeCompletionHandler({ resultsUri: () => target.results }, silentLogger);
    const body = JSON.stringify({ invocationStatus: 'Failed', failureReason: 'ClientError: Received client error (413) from model.', requestParameters: { inputLocation: uri } });
    expect((await complete({ Records: [{ messageId: 'c', body }] })).batchItemFailures).toEqual([]);
    expect(await readJson(joinUri(target.results, `${imageIdFromUri(uri)}.error.json`))).toMatchObject({ image_id: imageIdFromUri(uri), source_uri: uri, error_code: 'HTTP_413' });

    const refusing: AsyncInferenceSubmitter = { submit: async () => Promise.reject(new Error('ThrottlingException')) };
    const submit = makeAsyncSubmitHandler({ getSubmitter: () => refusing }, silentLogger);
    expect((await submit({ Records: [{ messageId: 's1', body: s3Event('uploads/a.jpg') }, { messageId: 's2', body: JSON.stringify({ Event: 's3:TestEvent' }) }] })).batchItemFailures).toEqual([{ itemIdentifier: 's1' }]);
  });

  test('statusOfFailure reads the container status out of SageMaker failure reasons', () => {
    expect(statusOfFailure('ClientError: Received client error (400) from model with message "x"')).toBe(400);
    expect(statusOfFailure('ModelError: Received server error (500) from primary')).toBe(500);
    expect(statusOfFailure('Inference request timed out')).toBeUndefined();
    expect(statusOfFailure(undefined)).toBeUndefined();
  });
});
