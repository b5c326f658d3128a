/**
 * Benchmarks of the catalog tools on a synthetic store (bench/store-data.ts): re-tag rows/s with a
 * taxonomy of ≥ 80 labels, and export rows/s in each format with the export's peak RSS measured in
 * its own process (flat memory means the same peak at every size).
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { EXPORT_FORMATS, type ExportFormat } from '../lib/core/catalog/export';
import { retagStore } from '../lib/core/catalog/retag';
import { openStore } from '../lib/core/store/connect';
import { loadShardResults } from '../lib/core/store/loader';
import { bankRows, parseTaxonomy, resolveTaxonomy, taxonomyId, type LabelBank, type Taxonomy } from '../lib/core/tags';
import { duplicatePlanter } from './dupes-data';
import { dupesRecall, timeDupes } from './dupes';
import { makeEmbeddingSpace, makeGaussian, makeRandom, writeShardFolder } from './store-data';

export interface CatalogBenchOptions {
  /** Store sizes to build and measure, ascending. */
  rows: number[];
  dim: number;
  shardRows: number;
  /** Labels of the synthetic taxonomy (categories of 8 multi-label tags). */
  labels: number;
  workDir: string;
  log: (message: string) => void;
  /** @default all */
  sections?: CatalogBenchSection[];
  /** Rows of the store on which dupes recall is measured against exhaustive search. @default 20,000 (at most the largest size) */
  dupesSample?: number;
  /** Export formats measured, each in its own process. @default jsonl, csv, parquet */
  exportFormats?: ExportFormat[];
}

/** What bench/catalog-export-child.ts prints. */
export interface ExportFigures {
  format: ExportFormat;
  rows: number;
  bytes: number;
  seconds: number;
  rowsPerSecond: number;
  /** The export's own CPU time, LanceDB's threads included. */
  cpuSeconds: number;
  rowsPerCpuSecond: number;
  peakRssMiB: number;
}

export const CATALOG_BENCH_SECTIONS = ['export', 'retag', 'dupes'] as const;
export type CatalogBenchSection = (typeof CATALOG_BENCH_SECTIONS)[number];

export const CATALOG_BENCH_DEFAULTS = { rows: [100_000], dim: 512, shardRows: 50_000, labels: 88, dupesSample: 20_000 };

export function benchTaxonomy(labels: number): Taxonomy {
  const categories = Array.from({ length: Math.ceil(labels / 8) }, (_, c) => ({
    name: `category-${c}`,
    exclusive: false,
    threshold: 0.5,
    labels: Array.from({ length: Math.min(8, labels - c * 8) }, (_, l) => ({ name: `tag-${c}-${l}` })),
  }));
  return parseTaxonomy({ id: 'bench', version: 1, background: ['a photo.'], categories });
}

/** Label vectors drawn like image embeddings, so that some tags fire and some don't. */
export function benchBank(taxonomy: Taxonomy, dim: number): LabelBank {
  const rows = bankRows(resolveTaxonomy(taxonomy));
  const random = makeRandom(77);
  const vectors = new Float32Array(rows.length * dim);
  for (let r = 0; r < rows.length; r++) {
    const row = vectors.subarray(r * dim, (r + 1) * dim);
    let sum = 0;
    for (let k = 0; k < dim; k++) sum += (row[k] = random() - 0.5) ** 2;
    for (let k = 0; k < dim; k++) row[k] /= Math.sqrt(sum);
  }
  return { modelId: 'synthetic', taxonomyId: taxonomyId(taxonomy), dim, rows, vectors };
}

/** A catalog is full of duplicates: ~1% near and ~0.5% exact copies are planted (bench/dupes-data.ts). */
async function buildStore(dir: string, rows: number, options: CatalogBenchOptions): Promise<{ db: string; planted: { near: number; exact: number } }> {
  const db = path.join(dir, 'db');
  const space = makeEmbeddingSpace({ dim: options.dim, clusters: 64 });
  const random = makeRandom(rows);
  const planter = duplicatePlanter(random, makeGaussian(random), options.dim);
  for (let first = 0, s = 0; first < rows; first += options.shardRows, s++) {
    const shardId = `shard-${String(s).padStart(5, '0')}`;
    const uri = path.join(dir, 'results', shardId);
    await writeShardFolder(uri, { shardId, count: Math.min(options.shardRows, rows - first), dim: options.dim, seed: s + 1, space, partSize: 25_000, onPart: planter.onPart });
    await loadShardResults({ dbUri: db, shardResultsUri: uri, shardId });
    await fs.rm(uri, { recursive: true, force: true });
  }
  return { db, planted: planter.planted };
}

export async function runCatalogBench(options: CatalogBenchOptions) {
  const sections = new Set(options.sections ?? CATALOG_BENCH_SECTIONS);
  const results = [];
  for (const rows of options.rows) {
    const dir = path.join(options.workDir, `rows-${rows}`);
    await fs.rm(dir, { recursive: true, force: true });
    options.log(`building a store of ${rows} rows (dim ${options.dim})`);
    const { db, planted } = await buildStore(dir, rows, options);

    let exportFigures: Partial<Record<ExportFormat, ExportFigures>> | undefined;
    if (sections.has('export')) {
      exportFigures = {};
      for (const format of options.exportFormats ?? EXPORT_FORMATS) {
        options.log(`export (${format}, in a child process)`);
        const child = path.join(__dirname, 'catalog-export-child.ts');
        const out = path.join(dir, `images.${format}`);
        exportFigures[format] = JSON.parse(execFileSync(process.execPath, ['-r', 'tsx/cjs', child, db, out, format], { encoding: 'utf8' }));
        await fs.rm(out, { force: true });
      }
    }

    let retag;
    if (sections.has('retag')) {
      options.log(`retag (${options.labels} labels)`);
      const taxonomy = benchTaxonomy(options.labels);
      const store = await openStore(db, { readConsistencySeconds: 0 });
      try {
        const started = performance.now();
        const cpuBefore = process.cpuUsage();
        // Where the time goes, per phase (the next unit is scored while this one commits, so the
        // two overlap and add up to more than the wall time).
        const phases = { scoreSeconds: 0, commitSeconds: 0 };
        const report = await retagStore({
          store,
          taxonomy,
          bank: benchBank(taxonomy, options.dim),
          logitScale: 100,
          onUnit: (u) => {
            phases.scoreSeconds += u.seconds?.score ?? 0;
            phases.commitSeconds += u.seconds?.commit ?? 0;
          },
        });
        const seconds = (performance.now() - started) / 1000;
        const cpu = process.cpuUsage(cpuBefore);
        // CPU seconds of this process (LanceDB's Rust threads included): steadier than wall time on a shared machine.
        const cpuSeconds = (cpu.user + cpu.system) / 1e6;
        const tagged = report.labels.reduce((n, l) => n + l.after, 0);
        retag = { rows: report.rows, seconds, rowsPerSecond: report.rows / seconds, cpuSeconds, rowsPerCpuSecond: report.rows / cpuSeconds, tagsPerRow: tagged / report.rows, ...phases };
      } finally {
        store.close();
      }
    }

    let dupes;
    if (sections.has('dupes')) {
      options.log('dupes (vector index build, then findDupes through it)');
      dupes = { plantedRows: planted.near + planted.exact, ...(await timeDupes(db)) };
    }
    results.push({ rows, dim: options.dim, labels: options.labels, export: exportFigures, retag, dupes });
    await fs.rm(dir, { recursive: true, force: true });
  }
  let dupesRecallFigures;
  if (sections.has('dupes')) {
    const sample = Math.min(options.dupesSample ?? CATALOG_BENCH_DEFAULTS.dupesSample, Math.max(...options.rows));
    const dir = path.join(options.workDir, `dupes-sample-${sample}`);
    await fs.rm(dir, { recursive: true, force: true });
    options.log(`dupes recall: a ${sample}-row sample store, exhaustive search vs the vector index`);
    const { db } = await buildStore(dir, sample, options);
    dupesRecallFigures = await dupesRecall(db);
    await fs.rm(dir, { recursive: true, force: true });
  }
  return { machine: 'shared, noisy: compare ratios within one run', results, dupesRecall: dupesRecallFigures };
}
