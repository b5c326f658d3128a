/**
 * `vista bench api`: the query API's latency over a synthetic store, on local disk and on the local
 * S3 server behind a proxy adding latency to every request (S3 requests per query counted there),
 * plus N concurrent HTTP clients. Every query goes through the same handler as `vista api`.
 */
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { type ApiHandler, makeApiHandler } from '../lib/core/api/handler';
import { startApiServer } from '../lib/core/api/server';
import { thumbnailRoute } from '../lib/core/api/thumbnails';
import { startS3 } from '../lib/core/io/local-s3';
import { mapWithConcurrency } from '../lib/core/io/concurrency';
import { type VistaStore, openStore } from '../lib/core/store/connect';
import { buildIndexes } from '../lib/core/store/indexer';
import { loadShardResults } from '../lib/core/store/loader';
import { defaultTaxonomy, resolveTaxonomy, taxonomyId } from '../lib/core/tags';
import type { ClipModel } from '../lib/core/types';
import { makeEmbeddingSpace, writeShardFolder } from './store-data';
import { median } from './windows';

export interface ApiBenchOptions {
  rows: number;
  dim: number;
  shardRows: number;
  queries: number;
  clients: number;
  /** Text tower for text search (e.g. `vista model generate --size vit-b-32`); none: full text only. */
  model?: ClipModel;
  s3: boolean;
  latencyMs: number;
  workDir: string;
  log: (m: string) => void;
}

const p = (sorted: number[], q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 10) / 10;
const stats = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { p50_ms: p(sorted, 0.5), p99_ms: p(sorted, 0.99), n: ms.length };
};

async function timed(n: number, run: (i: number) => Promise<{ status: number }>): Promise<{ p50_ms: number; p99_ms: number; n: number }> {
  await run(0); // warm
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const answer = await run(i + 1);
    if (answer.status !== 200) throw new Error(`bench query answered ${answer.status}: ${JSON.stringify(answer)}`);
    ms.push(performance.now() - t0);
  }
  return stats(ms);
}

function handlerFor(store: VistaStore, model?: ClipModel): ApiHandler {
  const taxonomy = defaultTaxonomy();
  return makeApiHandler({
    store,
    taxonomy: { id: taxonomyId(taxonomy), categories: resolveTaxonomy(taxonomy) },
    textModel: model ? () => Promise.resolve(model) : undefined,
    thumbnails: { urlFor: (id) => thumbnailRoute(id), serve: () => Promise.reject(new Error('not benchmarked')) },
  });
}

const TAGS = ['ocean view', 'pool', 'spa', 'balcony', 'beach', 'gym'];
const TEXTS = ['family hotel with a pool in Nice', 'ocean view balcony', 'spa and sauna in Zürich', 'rooftop bar New York', 'beach resort Málaga'];

async function measure(api: ApiHandler, ids: string[], o: ApiBenchOptions) {
  const get = (p: string) => api({ method: 'GET', path: p, query: { k: '10' } });
  const post = (p: string, body: unknown) => api({ method: 'POST', path: p, body });
  return {
    similar: await timed(o.queries, (i) => get(`/v1/images/${ids[(i * 7919) % ids.length]}/similar`)),
    tag_browse: await timed(o.queries, (i) => post('/v1/search', { tags: [TAGS[i % TAGS.length]], k: 20 })),
    text_search: await timed(o.queries, (i) => post('/v1/search', { text: TEXTS[i % TEXTS.length], k: 20 })),
  };
}

/** An HTTP proxy adding `latencyMs` before forwarding each request, and counting them. */
async function latencyProxy(target: string, latencyMs: number): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  const upstream = new URL(target);
  let count = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const server = http.createServer((req, res) => {
    count++;
    setTimeout(() => {
      const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    }, latencyMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => count,
    close: () => new Promise((resolve) => { server.closeAllConnections(); agent.destroy(); server.close(() => resolve()); }),
  };
}

/**
 * Where the query Lambda could embed search text: the text tower on the function's CPU, in
 * process, or the same tower behind an HTTP inference endpoint (SageMaker in AWS). The stand-in
 * endpoint is a local HTTP server in front of the same model (`vista serve` answers images only),
 * so `endpoint_http` = `cpu_in_process` + what a request costs (connection reuse, JSON of 512
 * floats both ways); SageMaker's own overhead and a GPU's speed-up are not in it.
 */
async function compareTextEmbedding(model: ClipModel, queries: number): Promise<Record<string, unknown>> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { text } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { text: string };
      model.embedTexts([text]).then(
        ([vector]) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ embedding: Array.from(vector) }));
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/invocations`;
  try {
    const cpuPass = async (i: number) => {
      await model.embedTexts([TEXTS[i % TEXTS.length]]);
      return { status: 200 };
    };
    const endpointPass = async (i: number) => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: TEXTS[i % TEXTS.length] }) });
      const body = (await res.json()) as { embedding: number[] };
      if (body.embedding.length !== model.embedDim) throw new Error('stand-in endpoint answered a wrong embedding');
      return { status: res.status };
    };
    // Three alternating windows (A B A B A B): a burst of load from elsewhere hits both paths.
    const windows = { cpu: [] as number[], endpoint: [] as number[] };
    const per = Math.max(1, Math.ceil(queries / 3));
    for (let w = 0; w < 3; w++) {
      windows.cpu.push((await timed(per, cpuPass)).p50_ms);
      windows.endpoint.push((await timed(per, endpointPass)).p50_ms);
    }
    const summary = (p50s: number[]) => ({ p50_ms_min: Math.min(...p50s), p50_ms_median: median(p50s), window_p50s: p50s, n: per * 3 });
    return {
      text_tower: model.id,
      cpu_in_process: summary(windows.cpu),
      endpoint_http: summary(windows.endpoint),
      request_overhead_p50_ms: Math.round((Math.min(...windows.endpoint) - Math.min(...windows.cpu)) * 10) / 10,
    };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export async function runApiBench(o: ApiBenchOptions): Promise<Record<string, unknown>> {
  await fs.rm(o.workDir, { recursive: true, force: true });
  const space = makeEmbeddingSpace({ dim: o.dim, clusters: 256, seed: 7 });
  const shardCount = Math.max(1, Math.ceil(o.rows / o.shardRows));
  // One run's shards (one writer family): they load side by side under one lease and supersede
  // nothing, as a backfill's do. Image ids without the slash: they go into URL paths.
  const shards = Array.from({ length: shardCount }, (_, i) => ({
    shardId: `bench-api/shard-${String(i).padStart(5, '0')}`,
    imagePrefix: `shard-${String(i).padStart(5, '0')}`,
    count: Math.min(o.shardRows, o.rows - i * o.shardRows),
  }));
  const ids: string[] = [];
  for (const [i, s] of shards.entries()) {
    o.log(`generating ${s.shardId} (${s.count} rows)`);
    await writeShardFolder(path.join(o.workDir, 'results', s.shardId), { ...s, dim: o.dim, seed: 1 + i, space, onPart: (_, rows) => ids.push(...rows.filter((_, j) => j % 97 === 0).map((r) => r.imageId)) });
  }
  const build = async (dbUri: string) => {
    await mapWithConcurrency(shards, 2, (s) => loadShardResults({ dbUri, shardResultsUri: path.join(o.workDir, 'results', s.shardId), shardId: s.shardId }));
    await buildIndexes({ dbUri, minRowsForVectorIndex: Math.min(100_000, o.rows) });
  };
  const result: Record<string, unknown> = { rows: o.rows, dim: o.dim, queries: o.queries, text_tower: o.model ? o.model.id : 'none (full text only)' };

  if (o.model) {
    o.log('text embedding: CPU in process vs HTTP endpoint');
    result.text_embedding = await compareTextEmbedding(o.model, o.queries);
  }

  o.log('local disk: load + index');
  const localDb = path.join(o.workDir, 'db');
  await build(localDb);
  const local = await openStore(localDb);
  try {
    const api = handlerFor(local, o.model);
    o.log('local disk: measuring');
    result.local = await measure(api, ids, o);

    o.log(`${o.clients} concurrent HTTP clients`);
    const server = await startApiServer(api, { port: 0 });
    let errors = 0;
    let requests = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: o.clients }, async (_, c) => {
        for (let i = 0; i < 10; i++) {
          const similar = await fetch(`${server.url}/v1/images/${ids[(c * 31 + i) % ids.length]}/similar?k=10`);
          const browse = await fetch(`${server.url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tags: [TAGS[i % TAGS.length]] }) });
          requests += 2;
          if (similar.status !== 200) errors++;
          if (browse.status !== 200) errors++;
          await similar.arrayBuffer();
          await browse.arrayBuffer();
        }
      }),
    );
    result.concurrent = { clients: o.clients, requests, errors, seconds: Math.round((performance.now() - t0) / 100) / 10 };
    await server.close();
  } finally {
    local.close();
  }

  if (o.s3) {
    const s3 = await startS3();
    const proxy = await latencyProxy(s3.endpoint, o.latencyMs);
    try {
      const dbUri = `${await s3.bucket('vista-bench-api')}/db`;
      o.log('local S3 server: load + index');
      await build(dbUri);
      process.env.AWS_ENDPOINT_URL_S3 = proxy.url;
      // Handles, manifests and index pages stay cached in the long-lived store (reads 60 s stale at most).
      const store = await openStore(dbUri, { readConsistencySeconds: 60 });
      try {
        const api = handlerFor(store, o.model);
        o.log(`local S3 server + ${o.latencyMs} ms per request: measuring`);
        const before = proxy.requests();
        const similar = await timed(o.queries, (i) => api({ method: 'GET', path: `/v1/images/${ids[(i * 7919) % ids.length]}/similar`, query: { k: '10' } }));
        const afterSimilar = proxy.requests();
        const browse = await timed(o.queries, (i) => api({ method: 'POST', path: '/v1/search', body: { tags: [TAGS[i % TAGS.length]], k: 20 } }));
        const afterBrowse = proxy.requests();
        result.s3 = {
          added_latency_ms: o.latencyMs,
          similar: { ...similar, s3_requests_per_query: Math.round(((afterSimilar - before) / (o.queries + 1)) * 10) / 10 },
          tag_browse: { ...browse, s3_requests_per_query: Math.round(((afterBrowse - afterSimilar) / (o.queries + 1)) * 10) / 10 },
        };
      } finally {
        store.close();
      }
    } finally {
      await proxy.close();
      await s3.stop();
    }
  }
  return result;
}
