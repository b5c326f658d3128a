/**
 * Planning benchmark. For each size it generates an input into a temporary folder, streaming
 * (file by file, a gzip stream per file: 20M keys never sit in memory), then plans it with the
 * real planning steps — the functions the shard Lambda runs — each split and dedup task in its
 * own process, as each is its own Lambda invocation in AWS, and reports per task keys/s and peak
 * RSS (the child's `maxRSS`). Two input kinds, two task profiles:
 *
 *  - `inventory`: an S3 Inventory report (CSV.gz, the real manifest.json shape, URL-encoded keys
 *    with spaces). Split tasks write shard-sized chunks; no dedup pass.
 *  - `manifest-prefix`: JSONL.gz manifests with duplicates across files. Split tasks spill
 *    hash partitions; dedup tasks hold one partition's image ids.
 *
 * Then: whether peak RSS stays under 1 GiB and flat from the smallest to the largest size, and
 * the projected planning time for 500M keys at the deployed Distributed Map concurrency. Nothing
 * generated is kept.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, promises as fs } from 'node:fs';
import { once } from 'node:events';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { DEFAULT_PLAN_CONCURRENCY } from '../lib/core/backfill/config';
import { writeInventory } from '../lib/core/backfill/demo/inventory';
import { DEFAULT_FILTER, GZIP_EXPANSION, dedupPartition, finishPlan, planInputs, splitInput } from '../lib/core/backfill/plan-steps';
import type { PlanSource } from '../lib/core/backfill/plan-inputs';

const run = promisify(execFile);
const REPO_ROOT = path.resolve(__dirname, '..');
const TARGET_KEYS = 500_000_000;
/** Lambda's longest run: a task past it fails, whatever its memory. */
const LAMBDA_TIMEOUT_S = 900;
/** The acceptance bound on one task's peak RSS. */
const RSS_LIMIT_MIB = 1024;

export type PlanBenchInput = 'inventory' | 'manifest-prefix';
export type PlanTaskKind = 'split' | 'dedup';

export interface PlanBenchOptions {
  /** Keys per run, smallest first (e.g. 2M and 20M: RSS must stay flat between them). */
  sizes: number[];
  /** Input files per run. */
  files: number;
  shardSize: number;
  inputs: PlanBenchInput[];
  /** Manifest prefix: every Nth line of a file after the first repeats a key of the first file. @default 100 */
  duplicateEvery?: number;
  /** Uncompressed manifest bytes per dedup partition. @default 256 MiB, the deployed VISTA_PARTITION_BYTES */
  partitionBytes?: number;
  /** Dedup partitions, fixed (tests). @default - derived from the bytes, as deployed */
  partitions?: number;
  /** Tasks at once on this machine (its cores, not the deployed concurrency). */
  parallel: number;
  /** The planning Map concurrency for the projection. @default DEFAULT_PLAN_CONCURRENCY (the deployed one) */
  deployedConcurrency?: number;
  log: (message: string) => void;
}

export interface PlanTaskFigure {
  kind: PlanTaskKind;
  /** Input file (split) or partition (dedup). */
  item: number;
  keys: number;
  seconds: number;
  keysPerSecond: number;
  peakRssMiB: number;
}

export interface TaskStats {
  tasks: number;
  wallSeconds: number;
  keysPerTask: number;
  medianKeysPerSecond: number;
  minKeysPerSecond: number;
  maxPeakRssMiB: number;
  minPeakRssMiB: number;
  figures: PlanTaskFigure[];
}

export interface PlanRunFigure {
  input: PlanBenchInput;
  keys: number;
  files: number;
  generateSeconds: number;
  partitions: number;
  /** The planner's estimate of uncompressed input bytes per key (sizes the dedup partitions). */
  estimatedBytesPerKey: number;
  shards: number;
  counts: { lines: number; entries: number; duplicates: number; filtered: number; invalid: number; blank: number };
  /** Duplicate lines the generator planted (manifest prefix), to check the count against. */
  plantedDuplicates: number;
  split: TaskStats;
  dedup?: TaskStats;
  finishSeconds: number;
}

/** One planning task in this process (what the child runs): prints its figures as one JSON line. */
export async function runPlanTask(kind: PlanTaskKind, workUri: string, runId: string, item: number): Promise<void> {
  const started = process.hrtime.bigint();
  let keys: number;
  if (kind === 'split') keys = (await splitInput(workUri, runId, item)).lines;
  else {
    const outcome = await dedupPartition(workUri, runId, item);
    keys = outcome.entries + outcome.duplicates.count;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  const figure: PlanTaskFigure = { kind, item, keys, seconds, keysPerSecond: Math.round(keys / seconds), peakRssMiB };
  console.log(JSON.stringify(figure));
}

export async function runPlanBench(o: PlanBenchOptions) {
  const deployedConcurrency = o.deployedConcurrency ?? DEFAULT_PLAN_CONCURRENCY;
  const runs: PlanRunFigure[] = [];
  for (const input of o.inputs) {
    for (const keys of o.sizes) runs.push(await benchOne(o, input, keys));
  }
  const byInput = o.inputs.map((input) => {
    const mine = runs.filter((r) => r.input === input);
    const small = mine[0];
    const large = mine[mine.length - 1];
    const peak = (r: PlanRunFigure) => Math.max(r.split.maxPeakRssMiB, r.dedup?.maxPeakRssMiB ?? 0);
    return {
      input,
      peakRssMiB: Object.fromEntries(mine.map((r) => [r.keys, { split: r.split.maxPeakRssMiB, ...(r.dedup ? { dedup: r.dedup.maxPeakRssMiB } : {}) }])),
      // Flat: the largest run's peak over the smallest's (1.0 = flat; keys per task grow by the size ratio).
      rssGrowth: Math.round((peak(large) / peak(small)) * 100) / 100,
      keysGrowth: Math.round((large.keys / small.keys) * 100) / 100,
      underLimit: mine.every((r) => peak(r) <= RSS_LIMIT_MIB),
      projection500M: project(large, deployedConcurrency, o.partitionBytes ?? 256 * 1024 ** 2),
    };
  });
  return { deployedConcurrency, rssLimitMiB: RSS_LIMIT_MIB, runs, byInput };
}

async function benchOne(o: PlanBenchOptions, input: PlanBenchInput, keys: number): Promise<PlanRunFigure> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-bench-plan-'));
  try {
    const t0 = Date.now();
    const generated = input === 'inventory' ? await generateInventory(dir, keys, o.files) : await generateManifests(dir, keys, o.files, o.duplicateEvery ?? 100);
    const generateSeconds = (Date.now() - t0) / 1000;
    o.log(`${input} ${keys}: generated ${keys} keys in ${o.files} gzip files in ${generateSeconds.toFixed(1)} s`);

    const work = path.join(dir, 'work');
    const runId = 'bench';
    const plan = await planInputs(work, runId, generated.source, {
      shardSize: o.shardSize,
      maxArraySize: 10_000,
      waveConcurrency: 3,
      partitionBytes: o.partitionBytes ?? 256 * 1024 ** 2,
      ...(o.partitions ? { partitions: o.partitions } : {}),
      filter: DEFAULT_FILTER,
    });
    const split = await runTasks(o, 'split', work, runId, plan.files.length, `${input} ${keys}`);
    const dedup = plan.dedup ? await runTasks(o, 'dedup', work, runId, plan.partitions, `${input} ${keys}`) : undefined;
    const t3 = Date.now();
    const summary = await finishPlan(work, runId);
    const finishSeconds = (Date.now() - t3) / 1000;
    return {
      input,
      keys,
      files: plan.files.length,
      generateSeconds,
      partitions: plan.partitions,
      // As planInputs sized the partitions: the expansion measured on the first gzip input.
      estimatedBytesPerKey: Math.round((plan.files.reduce((n, f) => n + f.size, 0) * (plan.gzipExpansion ?? GZIP_EXPANSION)) / keys),
      shards: summary.shardCount,
      counts: {
        lines: summary.lines,
        entries: summary.entries,
        duplicates: summary.duplicates.count,
        filtered: summary.filtered,
        invalid: summary.invalid.count,
        blank: summary.blankLines,
      },
      plantedDuplicates: generated.plantedDuplicates,
      split,
      ...(dedup ? { dedup } : {}),
      finishSeconds,
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Tasks 0 … count−1 of one kind, each in a child process, `parallel` at once. */
async function runTasks(o: PlanBenchOptions, kind: PlanTaskKind, work: string, runId: string, count: number, label: string): Promise<TaskStats> {
  const figures: PlanTaskFigure[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const item = next++;
      const { stdout } = await run(
        process.execPath,
        [path.join(REPO_ROOT, 'bin', 'vista.js'), 'bench', 'plan', '--task', kind, '--item', String(item), '--work', work, '--run-id', runId],
        { cwd: REPO_ROOT, maxBuffer: 1024 * 1024 },
      );
      const figure = JSON.parse(stdout.trim().split('\n').pop()!) as PlanTaskFigure;
      figures.push(figure);
      o.log(`${label} ${kind} ${item}: ${figure.keys} keys in ${figure.seconds.toFixed(1)} s (${figure.keysPerSecond} keys/s), peak RSS ${figure.peakRssMiB} MiB`);
    }
  };
  const t = Date.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.parallel, count)) }, worker));
  figures.sort((a, b) => a.item - b.item);
  const rates = figures.map((f) => f.keysPerSecond).sort((a, b) => a - b);
  const rss = figures.map((f) => f.peakRssMiB);
  return {
    tasks: figures.length,
    wallSeconds: (Date.now() - t) / 1000,
    keysPerTask: Math.round(figures.reduce((n, f) => n + f.keys, 0) / Math.max(1, figures.length)),
    medianKeysPerSecond: rates[Math.floor(rates.length / 2)] ?? 0,
    minKeysPerSecond: rates[0] ?? 0,
    maxPeakRssMiB: Math.max(...rss),
    minPeakRssMiB: Math.min(...rss),
    figures,
  };
}

/**
 * 500M keys in input files as large as this run's, split `concurrency` at a time, each at the
 * median keys/s; then (manifests) partitions of the deployed size deduplicated `concurrency` at a
 * time; then the finish step scaled linearly from this run (local copies; in AWS S3 CopyObject,
 * 32 at once, whose rate differs).
 */
function project(r: PlanRunFigure, concurrency: number, partitionBytes: number) {
  const keysPerFile = r.split.keysPerTask;
  const files = Math.ceil(TARGET_KEYS / keysPerFile);
  const splitRounds = Math.ceil(files / concurrency);
  const splitSeconds = splitRounds * (keysPerFile / r.split.medianKeysPerSecond);
  let dedupSeconds = 0;
  let partitions = 0;
  let keysPerPartition = 0;
  if (r.dedup) {
    // As planInputs sizes them: the inputs' estimated uncompressed bytes over the partition bytes.
    partitions = Math.min(10_000, Math.ceil((TARGET_KEYS * r.estimatedBytesPerKey) / partitionBytes));
    keysPerPartition = Math.ceil(TARGET_KEYS / partitions);
    dedupSeconds = Math.ceil(partitions / concurrency) * (keysPerPartition / r.dedup.medianKeysPerSecond);
  }
  const finishSeconds = r.finishSeconds * (TARGET_KEYS / r.counts.entries);
  const minutes = (s: number) => Math.round((s / 60) * 10) / 10;
  return {
    concurrency,
    inputFilesOfThisSize: files,
    splitRounds,
    splitMinutes: minutes(splitSeconds),
    ...(r.dedup ? { partitions, keysPerPartition, measuredKeysPerPartition: r.dedup.keysPerTask, dedupMinutes: minutes(dedupSeconds) } : {}),
    finishMinutes: minutes(finishSeconds),
    totalMinutes: minutes(splitSeconds + dedupSeconds + finishSeconds),
    // The largest input file one split task finishes within Lambda's 15 minutes at the slowest measured rate.
    maxKeysPerFileWithinLambdaTimeout: Math.floor(r.split.minKeysPerSecond * LAMBDA_TIMEOUT_S),
  };
}

interface Generated {
  source: PlanSource;
  plantedDuplicates: number;
}

function keyOf(i: number): string {
  return `hotels/h${i % 100_000}/room photo ${i}.jpg`;
}

/** Which keys file f holds: an even cut of 0 … keys−1. */
function range(keys: number, files: number, f: number): [number, number] {
  const per = Math.ceil(keys / files);
  return [f * per, Math.min(keys, (f + 1) * per)];
}

async function generateInventory(dir: string, keys: number, files: number): Promise<Generated> {
  function* keysOf(f: number) {
    const [from, to] = range(keys, files, f);
    for (let i = from; i < to; i++) yield keyOf(i);
  }
  // A generator of generators: each file is produced while it is written, never as a list.
  function* allFiles() {
    for (let f = 0; f < files; f++) yield keysOf(f);
  }
  const written = await writeInventory({ destinationUri: path.join(dir, 'inventory-bucket'), sourceBucket: 'hotel-photos', files: allFiles() });
  return { source: { kind: 'inventory', uri: written.manifestUri }, plantedDuplicates: 0 };
}

/**
 * JSONL.gz manifests, one per file; in every file after the first, each `duplicateEvery`-th
 * line repeats a key of the first file (so duplicates cross files), the other lines are new keys.
 */
async function generateManifests(dir: string, keys: number, files: number, duplicateEvery: number): Promise<Generated> {
  const prefix = path.join(dir, 'manifests');
  await fs.mkdir(prefix, { recursive: true });
  let planted = 0;
  for (let f = 0; f < files; f++) {
    const [from, to] = range(keys, files, f);
    const gzip = createGzip({ level: 1 });
    const out = createWriteStream(path.join(prefix, `part-${String(f).padStart(4, '0')}.jsonl.gz`));
    gzip.pipe(out);
    let batch: string[] = [];
    for (let i = from; i < to; i++) {
      const repeat = f > 0 && i % duplicateEvery === 0;
      const k = repeat ? i - from : i;
      if (repeat) planted++;
      batch.push(JSON.stringify({ uri: `s3://hotel-photos/${keyOf(k)}`, hotel_id: `h${k % 100_000}` }));
      if (batch.length === 10_000) {
        if (!gzip.write(`${batch.join('\n')}\n`)) await once(gzip, 'drain');
        batch = [];
      }
    }
    if (batch.length > 0) gzip.write(`${batch.join('\n')}\n`);
    gzip.end();
    await once(out, 'finish');
  }
  return { source: { kind: 'prefix', uri: prefix }, plantedDuplicates: planted };
}
