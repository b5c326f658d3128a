/**
 * The real-time path's guards, with fake stages (the real ones are covered by the integration
 * tests): health after the model is gone, malformed request targets, in-flight accounting,
 * graceful shutdown, fetch allow-lists, timeouts handed to the endpoint call.
 */
import * as net from 'node:net';
import { SystemErrorCode, VistaError } from '../../lib/core/errors';
import type { Enricher } from '../../lib/core/pipeline/enricher';
import { makeEnrichService, type EnrichServiceDeps } from '../../lib/core/serving/enrich-service';
import { makeLogger } from '../../lib/core/log';
import { startInferenceServer } from '../../lib/core/serving/http-server';
import type { InferenceClient } from '../../lib/core/serving/inference-client';
import { makeMicroBatcher } from '../../lib/core/serving/micro-batcher';
import { enrichUploads } from '../../lib/core/serving/upload-step';
import { makeApiHandler } from '../../lambdas/api-enrich';
import { silentLogger } from '../../lib/core/log';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fakeDeps(options: { enrichDelayMs?: number; modelGone?: boolean } = {}): EnrichServiceDeps {
  const enricher: Enricher = {
    modelId: 'fake@1',
    taxonomyId: 'tax@1',
    embedDim: 2,
    async enrich(batch) {
      await sleep(options.enrichDelayMs ?? 0);
      if (options.modelGone) throw new VistaError(SystemErrorCode.MODEL_UNAVAILABLE, 'model thread stopped: exit code 1');
      return batch.map((d) => ({
        ok: true as const,
        row: {
          imageId: d.entry.imageId, sourceUri: d.entry.uri, seoFilename: 'x.jpg', tags: [], tagScores: [], embedding: Float32Array.of(1, 0),
          width: 1, height: 1, format: 'jpeg' as const, contentSha256: 'sha', modelId: 'fake@1', taxonomyId: 'tax@1', processedAt: new Date(),
        },
      }));
    },
  };
  return {
    source: { fetch: async () => Buffer.from('bytes') },
    decoder: { decode: async () => ({ pixels: new Float32Array(3), width: 1, height: 1, format: 'jpeg', contentSha256: 'sha' }) },
    enricher,
  };
}

const postImage = (url: string, signal?: AbortSignal) =>
  fetch(`${url}/invocations`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: Buffer.from('img'), signal });

describe('inference server guards', () => {
  it('reports unhealthy on /ping once the model is gone, so SageMaker replaces the instance', async () => {
    const service = makeEnrichService(fakeDeps({ modelGone: true }), { maxWaitMs: 0 });
    const server = await startInferenceServer(service, { port: 0, host: '127.0.0.1' });
    try {
      expect((await fetch(`${server.url}/ping`)).status).toBe(200);
      expect((await postImage(server.url)).status).toBe(503);
      const ping = await fetch(`${server.url}/ping`);
      expect(ping.status).toBe(503);
      expect(((await ping.json()) as { error: { code: string } }).error.code).toBe('MODEL_UNAVAILABLE');
    } finally {
      await server.close();
    }
  });

  it('answers a malformed request target with 400 and keeps serving', async () => {
    const server = await startInferenceServer(makeEnrichService(fakeDeps()), { port: 0, host: '127.0.0.1' });
    try {
      const port = Number(new URL(server.url).port);
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.write('GET http://[::1/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
        let data = '';
        socket.on('data', (chunk) => (data += chunk.toString()));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
      expect(reply.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
      expect((await fetch(`${server.url}/ping`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('counts a request in flight until its work ends, even when the client has gone', async () => {
    const server = await startInferenceServer(makeEnrichService(fakeDeps({ enrichDelayMs: 400 }), { maxWaitMs: 0 }), { port: 0, host: '127.0.0.1', maxInFlight: 1 });
    try {
      const abort = new AbortController();
      const first = postImage(server.url, abort.signal).catch(() => 'aborted');
      await sleep(100);
      abort.abort();
      expect(await first).toBe('aborted');
      expect((await postImage(server.url)).status).toBe(503); // the first one's model call still runs
      await sleep(500);
      expect((await postImage(server.url)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('answers 503 DEADLINE_EXCEEDED when the work outlasts the request deadline, and keeps counting that work', async () => {
    const lines: string[] = [];
    const logger = makeLogger({ json: true, write: (line) => lines.push(line) });
    const server = await startInferenceServer(makeEnrichService(fakeDeps({ enrichDelayMs: 600 }), { maxWaitMs: 0 }), { port: 0, host: '127.0.0.1', maxInFlight: 1, requestTimeoutMs: 150, logger });
    try {
      const late = await postImage(server.url);
      expect(late.status).toBe(503);
      expect(((await late.json()) as { error: { code: string } }).error.code).toBe('DEADLINE_EXCEEDED');
      const busy = await postImage(server.url); // the first one's work still runs
      expect(((await busy.json()) as { error: { code: string } }).error.code).toBe('BUSY');
      await sleep(700);
      expect((await fetch(`${server.url}/ping`)).status).toBe(200);
      // The late outcome is not lost from the logs.
      expect(lines.map((l) => JSON.parse(l) as { message: string; outcome?: string })).toContainEqual(expect.objectContaining({ message: 'work ended after its deadline answer', outcome: 'ok' }));
    } finally {
      await server.close();
    }
  });

  it('lets requests in flight finish on close', async () => {
    const server = await startInferenceServer(makeEnrichService(fakeDeps({ enrichDelayMs: 300 }), { maxWaitMs: 0 }), { port: 0, host: '127.0.0.1' });
    const pending = postImage(server.url);
    await sleep(50);
    await server.close(5_000);
    expect((await pending).status).toBe(200);
  });
});

describe('fetch allow-list', () => {
  it('refuses http(s) prefixes and prefixes without a trailing slash at construction', () => {
    expect(() => makeEnrichService(fakeDeps(), { allowedUriPrefixes: ['https://cdn.example.com/'] })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => makeEnrichService(fakeDeps(), { allowedUriPrefixes: ['s3://uploads'] })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('refuses URIs outside the prefixes and URIs that climb out with ..', async () => {
    const service = makeEnrichService(fakeDeps(), { allowedUriPrefixes: ['s3://uploads/in/'], maxWaitMs: 0 });
    await expect(service.enrich({ uri: 's3://uploads/in/a.jpg', include_embedding: false })).resolves.toMatchObject({ source_uri: 's3://uploads/in/a.jpg' });
    await expect(service.enrich({ uri: 's3://uploads-private/in/a.jpg', include_embedding: false })).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
    await expect(service.enrich({ uri: 's3://uploads/in/../secret/a.jpg', include_embedding: false })).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
  });

  it('micro-batcher settings that could spin forever are refused', () => {
    expect(() => makeMicroBatcher({ maxSize: 0 }, async (x: number[]) => x)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => makeMicroBatcher({ maxSize: 4, maxWaitMs: -1 }, async (x: number[]) => x)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

describe('timeouts handed to the endpoint call', () => {
  const recording = () => {
    const calls: (number | undefined)[] = [];
    const client: InferenceClient = {
      async enrich(_request, options) {
        calls.push(options?.timeoutMs);
        return { status: 200, body: { image_id: 'x' } as never };
      },
    };
    return { client, calls };
  };

  it('the API Lambda leaves itself time to answer', async () => {
    const { client, calls } = recording();
    const api = makeApiHandler(() => client, silentLogger);
    await api({ headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uri: 's3://u/a.jpg' }) }, { getRemainingTimeInMillis: () => 25_000 });
    expect(calls).toEqual([23_500]);
  });

  it('the upload step does not start a call it cannot finish: that message is retried', async () => {
    const { client, calls } = recording();
    const body = JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'u' }, object: { key: 'uploads/a.jpg' } } }] });
    const out = await enrichUploads([{ messageId: 'm1', body }], { client, resultsUri: '/tmp/vista-never-written', remainingMs: () => 3_000 });
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    expect(calls).toEqual([]);
  });
});
