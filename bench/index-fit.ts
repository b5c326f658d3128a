/**
 * `vista bench index-fit`: how the vector index build grows with the table, to decide where it
 * runs (the index Lambda below `indexJobMinRows`, the Batch index job above) and to project 500M.
 * For each size: a float16 images-shaped table of clustered 512-d unit vectors written straight
 * into LanceDB (batches of 50k rows: memory stays flat), then the production IVF_RQ plan
 * (planVectorIndex: partitions, sample rate, iterations) timed through buildIndexes' own call.
 * Fits t = a · rows^b by least squares on log-log and projects larger tables.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { Field, FixedSizeList, Float16, Schema, Utf8, makeData, RecordBatch, Struct, Float32, Table } from 'apache-arrow';
import { planVectorIndex, toLanceIndex, type VectorIndexPlan } from '../lib/core/store/vector-index';
import { makeEmbeddingSpace, makeGaussian, makeRandom, sampleEmbedding } from './store-data';

export interface IndexFitOptions {
  sizes: number[];
  dim: number;
  workDir: string;
  log: (message: string) => void;
}

export interface IndexFitPoint {
  rows: number;
  plan: VectorIndexPlan;
  writeMs: number;
  buildMs: number;
  peakRssMiB: number;
  /** On-disk bytes of the table before the index (data files and manifests), and of the index alone. */
  tableBytes: number;
  indexBytes: number;
}

export interface IndexFitResult {
  dim: number;
  points: IndexFitPoint[];
  /** t(ms) = a · rows^b, least squares on log-log. */
  fit?: { a: number; b: number };
  projectionsSeconds?: Record<string, number>;
}

const BATCH_ROWS = 50_000;

async function writeTable(db: lancedb.Connection, rows: number, dim: number): Promise<lancedb.Table> {
  const itemField = new Field('item', new Float32(), true);
  const writeSchema = new Schema([new Field('image_id', new Utf8(), false), new Field('embedding', new FixedSizeList(dim, itemField), false)]);
  const storedSchema = new Schema([new Field('image_id', new Utf8(), false), new Field('embedding', new FixedSizeList(dim, new Field('item', new Float16(), true)), false)]);
  const table = await db.createEmptyTable('images', storedSchema, { mode: 'overwrite' });
  const space = makeEmbeddingSpace({ dim, clusters: 1_000, seed: 42 });
  const random = makeRandom(7);
  const gauss = makeGaussian(random);
  for (let first = 0; first < rows; first += BATCH_ROWS) {
    const n = Math.min(BATCH_ROWS, rows - first);
    const vectors = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) sampleEmbedding(space, random, gauss, vectors, i * dim);
    const ids = makeData({ type: new Utf8(), length: n, nullCount: 0, ...utf8Column(Array.from({ length: n }, (_, i) => `img-${first + i}`)) });
    const embedding = makeData({ type: writeSchema.fields[1].type, length: n, nullCount: 0, child: makeData({ type: new Float32(), length: n * dim, nullCount: 0, data: vectors }) });
    const data = makeData({ type: new Struct(writeSchema.fields), length: n, nullCount: 0, children: [ids, embedding] });
    // float32 in, float16 stored: Lance casts natively, as the loader relies on.
    await table.add(new Table(writeSchema, [new RecordBatch(writeSchema, data)]));
  }
  return table;
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await fs.stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

function utf8Column(values: string[]): { valueOffsets: Int32Array; data: Uint8Array } {
  const encoded = values.map((v) => Buffer.from(v, 'utf8'));
  const valueOffsets = new Int32Array(values.length + 1);
  for (let i = 0; i < encoded.length; i++) valueOffsets[i + 1] = valueOffsets[i] + encoded[i].length;
  return { valueOffsets, data: new Uint8Array(Buffer.concat(encoded)) };
}

export function fitPowerLaw(points: { rows: number; ms: number }[]): { a: number; b: number } | undefined {
  if (points.length < 2) return undefined;
  const xs = points.map((p) => Math.log(p.rows));
  const ys = points.map((p) => Math.log(p.ms));
  const mx = xs.reduce((s, x) => s + x, 0) / xs.length;
  const my = ys.reduce((s, y) => s + y, 0) / ys.length;
  const b = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  return { a: Math.exp(my - b * mx), b };
}

export async function runIndexFit(options: IndexFitOptions): Promise<IndexFitResult> {
  const points: IndexFitPoint[] = [];
  for (const rows of options.sizes) {
    const dir = path.join(options.workDir, `rows-${rows}`);
    await fs.rm(dir, { recursive: true, force: true });
    const db = await lancedb.connect(dir);
    try {
      let peak = process.memoryUsage().rss;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
      const t0 = Date.now();
      const table = await writeTable(db, rows, options.dim);
      const writeMs = Date.now() - t0;
      const tableBytes = await directoryBytes(dir);
      const plan = planVectorIndex(rows, options.dim);
      options.log(`${rows} rows written in ${(writeMs / 1000).toFixed(1)} s; building ${plan.type} with ${plan.numPartitions} partitions`);
      const t1 = Date.now();
      await table.createIndex('embedding', { config: toLanceIndex(plan), replace: true });
      const buildMs = Date.now() - t1;
      clearInterval(sampler);
      const indexBytes = (await directoryBytes(dir)) - tableBytes;
      points.push({ rows, plan, writeMs, buildMs, peakRssMiB: Math.round(peak / 2 ** 20), tableBytes, indexBytes });
      options.log(
        `${rows} rows: index built in ${(buildMs / 1000).toFixed(1)} s, peak RSS ${Math.round(peak / 2 ** 20)} MiB; ` +
          `on disk ${(tableBytes / rows).toFixed(0)} B/row table, ${(indexBytes / rows).toFixed(0)} B/row index`,
      );
      table.close();
    } finally {
      db.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  const fit = fitPowerLaw(points.map((p) => ({ rows: p.rows, ms: p.buildMs })));
  const projectionsSeconds = fit
    ? Object.fromEntries([1e6, 4e6, 16e6, 100e6, 500e6].map((n) => [String(n), Math.round((fit.a * n ** fit.b) / 1000)]))
    : undefined;
  return { dim: options.dim, points, fit, projectionsSeconds };
}
