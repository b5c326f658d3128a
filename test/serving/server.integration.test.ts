/**
 * The real-time inference server, for real: the tiny model, sharp, and HTTP on a free port.
 * Every bad request must come back as a status and a typed error, never a crash.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../lib/core/log';
import { createWorker, type Worker } from '../../lib/core/pipeline/worker';
import { parseWorkerConfig } from '../../lib/core/pipeline/worker-config';
import { type EnrichService, makeEnrichService } from '../../lib/core/serving/enrich-service';
import { parseCustomAttributes } from '../../lib/core/serving/http-request';
import { type InferenceServer, startInferenceServer } from '../../lib/core/serving/http-server';
import type { EnrichResult, TextEmbedResult } from '../../lib/core/serving/protocol';
import { httpInferenceClient } from '../../lib/core/serving/inference-client';
import { remoteTextModel } from '../../lib/core/api/remote-text-model';
import { writeFixtureImages, type FixtureImage } from '../support/fixtures';
import { TINY_MODEL_DIR } from '../support/models';

let tmp: string;
let worker: Worker;
let service: EnrichService;
let server: InferenceServer;
let fixtures: FixtureImage[];
const SEO_NAME = /^[a-z0-9]+(-[a-z0-9]+)*\.(jpg|png|webp|avif|gif|tif)$/;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-serve-'));
  fixtures = await writeFixtureImages(path.join(tmp, 'images'));
  worker = await createWorker(parseWorkerConfig({ model: TINY_MODEL_DIR, artifacts: path.join(tmp, 'artifacts') }), silentLogger);
  service = makeEnrichService({ ...pick(worker), textEncoder: worker.model }, { maxSize: 8, maxWaitMs: 20, allowedUriPrefixes: [path.join(tmp, 'images') + path.sep] });
  server = await startInferenceServer(service, { port: 0, host: '127.0.0.1', maxBodyBytes: 2 * 1024 * 1024, maxInFlight: 64 });
});

afterAll(async () => {
  await server?.close();
  await worker?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

const pick = (w: Worker) => ({ source: w.source, decoder: w.decoder, enricher: w.enricher });
const fixture = (name: string) => fixtures.find((f) => f.name === name)!;
const post = (body: string | Buffer, contentType: string, query = '', headers: Record<string, string> = {}) =>
  fetch(`${server.url}/invocations${query}`, { method: 'POST', body, headers: { 'content-type': contentType, ...headers } });

test('GET /ping answers 200 (SageMaker health check)', async () => {
  const res = await fetch(`${server.url}/ping`);
  expect(res.status).toBe(200);
});

test('JSON with base64 bytes: tags, an SEO name from the hotel context, a unit-length embedding', async () => {
  const bytes = await fs.readFile(fixture('photo.jpg').path);
  const res = await post(JSON.stringify({ image_base64: bytes.toString('base64'), image_id: 'rt-1', hotel_name: 'Hôtel Côte d’Azur', city: 'Nice' }), 'application/json');
  expect(res.status).toBe(200);
  const body = (await res.json()) as EnrichResult;
  expect(body).toMatchObject({ image_id: 'rt-1', format: 'jpeg', width: 320, height: 240, model_id: worker.model.id });
  expect(body.seo_filename).toMatch(SEO_NAME);
  expect(body.seo_filename.startsWith('hotel-cote-azur-nice-')).toBe(true);
  expect(body.tags.length).toBeGreaterThan(0);
  expect(body.embedding).toHaveLength(worker.model.embedDim);
  expect(Math.hypot(...body.embedding!)).toBeCloseTo(1, 4);
});

test('raw image bytes with metadata in the query or in SageMaker custom attributes; the same image gives the same embedding', async () => {
  const bytes = await fs.readFile(fixture('photo.webp').path);
  const a = await post(bytes, 'image/webp', '?image_id=q-1&city=Paris');
  const b = await post(bytes, 'application/octet-stream', '?include_embedding=false', { 'x-amzn-sagemaker-custom-attributes': 'image_id=attr-1;hotel_name=Villa%20Serena' });
  expect([a.status, b.status]).toEqual([200, 200]);
  const [ra, rb] = [(await a.json()) as EnrichResult, (await b.json()) as EnrichResult];
  expect(ra.image_id).toBe('q-1');
  expect(rb.image_id).toBe('attr-1');
  expect(rb.seo_filename.startsWith('villa-serena-')).toBe(true);
  expect(rb.embedding).toBeUndefined();
  expect(rb.tags).toEqual(ra.tags);
});

test('a URI under an allowed prefix is fetched; one outside it is refused (no reading the server’s disk)', async () => {
  const ok = await post(JSON.stringify({ uri: fixture('alpha.png').path }), 'application/json');
  expect(ok.status).toBe(200);
  const refused = await post(JSON.stringify({ uri: '/etc/passwd' }), 'application/json');
  expect(refused.status).toBe(400);
  expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('REQUEST_INVALID');
});

test.each([
  ['truncated.jpg', 422, 'CORRUPT_IMAGE'],
  ['notes.txt', 422, 'NOT_AN_IMAGE'],
  ['vector.svg', 422, 'UNSUPPORTED_FORMAT'],
  ['bomb.png', 422, 'TOO_MANY_PIXELS'],
])('bad image %s → %d %s', async (name, status, code) => {
  const bytes = await fs.readFile(fixture(name).path);
  const res = await post(JSON.stringify({ image_base64: bytes.toString('base64') }), 'application/json');
  expect(res.status).toBe(status);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
});

test.each([
  ['not JSON', '{"image_base64": ', 'application/json', 400, 'REQUEST_INVALID'],
  ['both bytes and a uri', JSON.stringify({ image_base64: 'AAAA', uri: 's3://b/k.jpg' }), 'application/json', 400, 'REQUEST_INVALID'],
  ['an unknown field', JSON.stringify({ image_base64: 'AAAA', colour: 'red' }), 'application/json', 400, 'REQUEST_INVALID'],
  ['invalid base64', JSON.stringify({ image_base64: '!!!not base64!!!' }), 'application/json', 400, 'REQUEST_INVALID'],
  ['an unsupported content type', 'hello', 'text/plain', 400, 'REQUEST_INVALID'],
  ['an empty image body', '', 'image/jpeg', 400, 'REQUEST_INVALID'],
])('malformed request: %s → %s', async (_label, body, type, status, code) => {
  const res = await post(body, type);
  expect(res.status).toBe(status);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
});

test('a body over the cap is refused with 413, with or without a declared length, and the server keeps serving', async () => {
  const huge = Buffer.alloc(3 * 1024 * 1024, 1);
  const declared = await post(huge, 'image/jpeg');
  expect(declared.status).toBe(413);
  const chunked = await fetch(`${server.url}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'image/jpeg' },
    body: new ReadableStream({
      start(controller) {
        for (let i = 0; i < 6; i++) controller.enqueue(new Uint8Array(512 * 1024));
        controller.close();
      },
    }),
    duplex: 'half',
  } as RequestInit);
  expect(chunked.status).toBe(413);
  expect((await fetch(`${server.url}/ping`)).status).toBe(200);
});

test('unknown routes and methods are 404/405', async () => {
  expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  expect((await fetch(`${server.url}/invocations`)).status).toBe(405);
});

test('concurrent requests share model batches', async () => {
  const bytes = await fs.readFile(fixture('photo.jpg').path);
  const before = { ...service.stats };
  const responses = await Promise.all(
    Array.from({ length: 16 }, (_, i) => post(JSON.stringify({ image_base64: bytes.toString('base64'), image_id: `c-${i}`, include_embedding: false }), 'application/json')),
  );
  expect(responses.map((r) => r.status)).toEqual(Array(16).fill(200));
  const requests = service.stats.requests - before.requests;
  const batches = service.stats.batches - before.batches;
  expect(requests).toBe(16);
  expect(batches).toBeLessThan(16);
});

test('custom attributes parse key=value pairs with URL-encoded values and skip malformed ones', () => {
  expect(parseCustomAttributes('image_id=a%2Fb; city=S%C3%A3o%20Paulo;broken;x=%E0%A4%A')).toEqual({ image_id: 'a/b', city: 'São Paulo' });
});

describe('text requests (the query API\'s hybrid search embeds its text here)', () => {
  test('{"text"} answers the text tower\'s unit-length embedding and the model id, as the model gives it', async () => {
    const res = await post(JSON.stringify({ text: 'rooftop pool at night' }), 'application/json');
    expect(res.status).toBe(200);
    const body = (await res.json()) as TextEmbedResult;
    expect(body.model_id).toBe(worker.model.id);
    const [direct] = await worker.model.embedTexts(['rooftop pool at night']);
    expect(body.embedding).toHaveLength(worker.model.embedDim);
    body.embedding.forEach((v, i) => expect(v).toBeCloseTo(direct[i], 5));
  });

  test('an empty text, a huge one, or text mixed with image fields is refused with 400', async () => {
    for (const bad of [{ text: '  ' }, { text: 'x'.repeat(1001) }, { text: 'pool', uri: fixture('alpha.png').path }, { text: 42 }]) {
      const res = await post(JSON.stringify(bad), 'application/json');
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('REQUEST_INVALID');
    }
  });

  test('a server without a text tower refuses text with 400, naming why', async () => {
    const imagesOnly = makeEnrichService(pick(worker));
    await expect(imagesOnly.embedText({ text: 'pool' })).rejects.toMatchObject({ code: 'REQUEST_INVALID', message: expect.stringMatching(/no text tower/) });
  });

  test('the query API\'s remote text model: vectors from the endpoint, refused when the store holds another model', async () => {
    const client = httpInferenceClient(server.url);
    const [vector] = await remoteTextModel(client, { storeModelId: worker.model.id }).embedTexts(['ocean view']);
    const [direct] = await worker.model.embedTexts(['ocean view']);
    expect(Array.from(vector).map((v) => v.toFixed(5))).toEqual(Array.from(direct).map((v) => v.toFixed(5)));
    await expect(remoteTextModel(client, { storeModelId: 'vit-b-32@other' }).embedTexts(['ocean view'])).rejects.toMatchObject({ code: 'STORE_MODEL_MISMATCH' });
    await expect(remoteTextModel(httpInferenceClient('http://127.0.0.1:1')).embedTexts(['ocean view'])).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });
});
