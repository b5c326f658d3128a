/**
 * `npm run bench:store`: the LanceDB store at benchmark scale, through the real code paths.
 *   1 synthetic worker output on disk: clustered 512-d unit embeddings (a mixture of Gaussians on
 *     the sphere, like real CLIP embeddings), shards of part-NNNNN.arrow files
 *   2 load every shard with loadShardResults, `concurrency` at once (as the backfill's Map does),
 *     `repeats` times, each into a fresh store (a window of its own: rows/s min and median), then
 *     load them all again (must be skipped, row count unchanged) and force-reload one
 *   3 buildIndexes (compaction, IVF_RQ cosine vector index, scalar indexes)
 *   4 search latency over held-out queries through searchByVector, and recall@10 against an exact
 *     flat search of the same table (bypassVectorIndex) and against float32 brute force
 *   5 throughput windows: indexed search and flat search, each window ≥ `windowSeconds`, `repeats`
 *     times, alternating (bench/windows.ts): queries/s min and median
 *
 * The index is built once (minutes at 1M rows): its time is one measurement, said so in the output.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TableName, openStore } from '../lib/core/store/connect';
import { buildIndexes } from '../lib/core/store/indexer';
import { loadShardResults } from '../lib/core/store/loader';
import { DEFAULT_NPROBES, DEFAULT_REFINE_FACTOR, searchByVector } from '../lib/core/store/search';
import { makeEmbeddingSpace, sampleQueries, writeShardFolder } from './store-data';
import { ExactTopK, recallAtK, summarize } from './store-recall';
import { alternatingWindows, summarize as summarizeWindows } from './windows';

export interface StoreBenchOptions {
  rows: number;
  dim: number;
  shardRows: number;
  partRows: number;
  clusters: number;
  concurrency: number;
  queries: number;
  /** Queries also checked against float32 brute force (costs rows × dim × this in JS). */
  float32Queries: number;
  k: number;
  sweep: { nprobes: number; refineFactor: number }[];
  /** Loads (each into a fresh store) and search throughput windows per path. */
  repeats: number;
  /** Each search throughput window lasts at least this long. */
  windowSeconds: number;
  workDir: string;
  log: (message: string) => void;
}

export const STORE_BENCH_DEFAULTS = {
  rows: 1_000_000,
  dim: 512,
  shardRows: 100_000,
  partRows: 10_000,
  clusters: 1_000,
  concurrency: 2,
  queries: 200,
  float32Queries: 50,
  k: 10,
  sweep: [
    { nprobes: 5, refineFactor: 5 },
    { nprobes: 10, refineFactor: 5 },
    { nprobes: 20, refineFactor: 1 },
    { nprobes: 40, refineFactor: 10 },
  ],
  repeats: 3,
  windowSeconds: 10,
};

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(lanes);
  return out;
}

const seconds = (ms: number) => Math.round(ms / 10) / 100;

export async function runStoreBench(o: StoreBenchOptions): Promise<Record<string, unknown>> {
  const resultsDir = path.join(o.workDir, 'results');
  const dbUri = path.join(o.workDir, 'db');
  await fs.rm(o.workDir, { recursive: true, force: true });
  const loadavgStart = os.loadavg().map((x) => Math.round(x * 100) / 100);

  // 1 synthetic worker output (+ float32 ground truth for the first queries, computed on the fly).
  const space = makeEmbeddingSpace({ dim: o.dim, clusters: o.clusters, seed: 7 });
  const queries = sampleQueries(space, o.queries, 1_000_003);
  const float32Truth = new ExactTopK(queries.slice(0, o.float32Queries), o.k);
  const shardCount = Math.max(1, Math.ceil(o.rows / o.shardRows));
  const shards = Array.from({ length: shardCount }, (_, i) => ({
    shardId: `shard-${String(i).padStart(5, '0')}`,
    count: Math.min(o.shardRows, o.rows - i * o.shardRows),
  }));
  let t0 = Date.now();
  for (const [i, s] of shards.entries()) {
    o.log(`generating ${s.shardId} (${s.count} rows)`);
    await writeShardFolder(path.join(resultsDir, s.shardId), {
      ...s, dim: o.dim, seed: 1 + i, failures: Math.ceil(s.count / 1000), partSize: o.partRows, space,
      onPart: (embeddings, rows) => float32Truth.add(embeddings, rows.map((r) => r.imageId)),
    });
  }
  const generateMs = Date.now() - t0;

  // 2 load `repeats` times, each into a fresh store (only the last is kept), then load again
  // (idempotent: all skipped), then force one shard (replace path).
  const load = (s: { shardId: string }, force = false) =>
    loadShardResults({ dbUri, shardResultsUri: path.join(resultsDir, s.shardId), shardId: s.shardId, force });
  const loadWindows: number[] = [];
  let loaded: Awaited<ReturnType<typeof load>>[] = [];
  let loadMs = 0;
  let loadSecondsTotal = 0;
  for (let r = 0; r < Math.max(1, o.repeats); r++) {
    await fs.rm(dbUri, { recursive: true, force: true });
    o.log(`loading ${o.rows} rows, ${o.concurrency} shards at a time (load ${r + 1} of ${Math.max(1, o.repeats)}, fresh store)`);
    t0 = Date.now();
    loaded = await mapLimit(shards, o.concurrency, (s) => load(s));
    loadMs = Date.now() - t0;
    loadSecondsTotal += loadMs / 1000;
    loadWindows.push(loaded.reduce((n, x) => n + x.loadedRows, 0) / (loadMs / 1000));
  }
  const loadedRows = loaded.reduce((n, r) => n + r.loadedRows, 0);
  t0 = Date.now();
  const again = await mapLimit(shards, o.concurrency, (s) => load(s));
  const reloadMs = Date.now() - t0;
  t0 = Date.now();
  const forced = await load(shards[0], true);
  const forcedMs = Date.now() - t0;

  const store = await openStore(dbUri, { readConsistencySeconds: 0 });
  const images = (await store.table(TableName.images))!;
  const rowsAfterReloads = await images.countRows();

  // 3 indexes.
  o.log('building indexes');
  t0 = Date.now();
  const report = await buildIndexes({ dbUri, minRowsForVectorIndex: 0, log: o.log });
  const indexMs = Date.now() - t0;
  await images.checkoutLatest();

  // 4 latency through the real search path, then recall against exact flat search.
  o.log(`searching: ${o.queries} queries`);
  for (const q of queries.slice(0, 5)) await searchByVector(store, q, { k: o.k }); // warm caches
  const latencies: number[] = [];
  const annIds: string[][] = [];
  for (const q of queries) {
    const start = performance.now();
    const { results } = await searchByVector(store, q, { k: o.k });
    latencies.push(performance.now() - start);
    annIds.push(results.map((r) => r.imageId));
  }
  o.log(`exact flat search for ${o.queries} queries (slow by design)`);
  const flatIds: string[][] = [];
  const flatLatencies: number[] = [];
  for (const q of queries) {
    const start = performance.now();
    const rows = await images.vectorSearch(q).distanceType('cosine').bypassVectorIndex().select(['image_id', '_distance']).limit(o.k).toArray();
    flatLatencies.push(performance.now() - start);
    flatIds.push(rows.map((r: { image_id: string }) => r.image_id));
  }
  const sweep = [];
  for (const setting of o.sweep) {
    const ids: string[][] = [];
    const lat: number[] = [];
    for (const q of queries) {
      const start = performance.now();
      const { results } = await searchByVector(store, q, { k: o.k, ...setting });
      lat.push(performance.now() - start);
      ids.push(results.map((r) => r.imageId));
    }
    sweep.push({ ...setting, recall_at_k: recallAtK(ids, flatIds), ...summarize(lat) });
  }
  // 5 throughput windows, indexed and flat search alternating.
  o.log(`search throughput: indexed and flat search, ${o.repeats} windows of ≥ ${o.windowSeconds} s each, alternating`);
  let flatNext = 0;
  const throughput = await alternatingWindows(
    {
      indexed: async () => {
        for (const q of queries) await searchByVector(store, q, { k: o.k });
        return queries.length;
      },
      flat: async () => {
        const q = queries[flatNext++ % queries.length];
        await images.vectorSearch(q).distanceType('cosine').bypassVectorIndex().select(['image_id', '_distance']).limit(o.k).toArray();
        return 1;
      },
    },
    { seconds: o.windowSeconds, repeats: o.repeats },
    (name, rate) => o.log(`  ${name}: ${Math.round(rate * 10) / 10} queries/s`),
  );
  store.close();

  const f32 = float32Truth.ids();
  const recall = recallAtK(annIds, flatIds);
  const latency = summarize(latencies);
  const vector = report.indexes.find((i) => i.column === 'embedding');
  return {
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gib: Math.round(os.totalmem() / 2 ** 30), loadavg_at_start: loadavgStart },
    data: {
      rows: o.rows, dim: o.dim, shards: shardCount, part_rows: o.partRows, clusters: o.clusters,
      embeddings: 'unit vectors from a mixture of Gaussians on the sphere (shared cone, per-cluster rank-16 spread, isotropic noise)',
      generate_seconds: seconds(generateMs),
    },
    load: {
      rows: loadedRows, seconds: seconds(loadMs), rows_per_second: Math.round(loadedRows / (loadMs / 1000)), concurrency: o.concurrency,
      windows: { note: 'rows/s of each whole load into a fresh store', ...summarizeWindows(loadWindows, loadedRows * loadWindows.length, loadSecondsTotal) },
      reload_all: { seconds: seconds(reloadMs), skipped: again.filter((r) => r.skipped).length, of: shards.length },
      forced_reload_one_shard: { rows: forced.loadedRows, seconds: seconds(forcedMs), rows_per_second: Math.round(forced.loadedRows / (forcedMs / 1000)) },
      rows_after_reloads: rowsAfterReloads,
      exactly_once: rowsAfterReloads === o.rows,
    },
    index: {
      note: 'built once (one measurement, not repeated: minutes at 1M rows)',
      seconds: seconds(indexMs),
      vector: vector?.plan ?? vector,
      vector_seconds: seconds(vector?.ms ?? 0),
      optimize_seconds: seconds(report.optimize.reduce((n, x) => n + x.ms, 0)),
      scalar: report.indexes.filter((i) => i.column !== 'embedding').map((i) => `${i.table}.${i.column}:${i.type}:${i.action}`),
    },
    search: {
      queries: o.queries, k: o.k, nprobes: DEFAULT_NPROBES, refine_factor: DEFAULT_REFINE_FACTOR,
      ...latency,
      recall_at_k_vs_flat: recall,
      flat_search: summarize(flatLatencies),
      recall_vs_float32_brute_force: {
        queries: f32.length,
        ann: recallAtK(annIds.slice(0, f32.length), f32),
        flat_float16: recallAtK(flatIds.slice(0, f32.length), f32),
      },
      sweep,
      throughput: { note: `queries/s, windows of ≥ ${o.windowSeconds} s, ${o.repeats} per path, alternating`, ...throughput },
    },
    targets: {
      load_rows_per_second: { target: 20_000, of: 'min of the load windows', met: Math.min(...loadWindows) >= 20_000 },
      recall_at_10: { target: 0.95, met: recall >= 0.95 },
      p50_ms: { target: 20, met: latency.p50_ms < 20 },
    },
  };
}
