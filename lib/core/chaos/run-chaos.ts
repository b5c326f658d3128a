/**
 * `vista chaos`: the real worker (tiny random-weight model) enriches a small catalog held in a
 * local S3 server, through the fault-injecting proxy, once per trial and experiment; each run's
 * output is then checked entry by entry against what the catalog must give. The backfill's load
 * step and the real-time ingest run through the same proxy (store-trials.ts), and `vista serve`
 * meets hostile clients (serve-trials.ts, whose `breaches` column only it fills):
 *   lost            entries neither stored as a row nor recorded as a failure
 *   doubled         entries stored or recorded more than once
 *   wrongly failed  good images recorded as failures, broken ones failed with another code
 *   hangs           runs that did not finish within the deadline
 *   crashes         runs that threw (the shard would be retried by Batch, but it counts here)
 * s3rver is a development dependency: like `vista demo`, this runs from a clone.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateDemoCatalog } from '../backfill/demo/catalog';
import { joinUri, listNames, readBytes, readText, writeAtomic } from '../io/location';
import { startS3, type LocalS3 } from '../io/local-s3';
import type { Logger } from '../log';
import { readArrowFile } from '../pipeline/arrow-rows';
import { createWorker, type Worker } from '../pipeline/worker';
import { parseWorkerConfig, type WorkerConfig } from '../pipeline/worker-config';
import { CHAOS_FETCH_TIMEOUT_MS, EXPERIMENTS, type Experiment } from './experiments';
import { serveTrial } from './serve-trials';
import { ingestTrial, loadTrial } from './store-trials';

export interface ChaosOptions {
  /** Good images in the catalog (5 broken entries are added). @default 40 */
  images?: number;
  /** Runs per experiment. @default 3 */
  trials?: number;
  /** The experiments to run: names of EXPERIMENTS, or experiments of the caller's own. @default all */
  experiments?: (string | Experiment)[];
  /** Seeds the proxy's faults. @default 1 */
  seed?: number;
  /** A run not finished after this long is a hang. @default 180000 */
  deadlineMs?: number;
  /** Worker settings (the retry settings are the defaults unless given here). */
  worker?: Partial<WorkerConfig>;
  logger: Logger;
  onTrial?: (experiment: string, trial: number, outcome: TrialOutcome) => void;
}

export interface TrialOutcome {
  faults: number;
  lost: number;
  doubled: number;
  wronglyFailed: number;
  hung: boolean;
  crashed: boolean;
  /** Images recovered by the end-of-shard retry. */
  recovered: number;
  /** Hostile requests that got what they must not (serve experiments: serve-trials.ts). */
  breaches: number;
  seconds: number;
  /** Why the run crashed, or what went wrong. */
  notes: string[];
}

export interface ExperimentResult {
  name: string;
  faults: string;
  trials: number;
  faultsInjected: number;
  lost: number;
  doubled: number;
  wronglyFailed: number;
  hangs: number;
  crashes: number;
  breaches: number;
  recovered: number;
  seconds: number;
  notes: string[];
}

interface CatalogEntry {
  id: string;
  uri: string;
  /** undefined: must succeed; else the error code it must fail with. */
  expect?: string;
}

export async function runChaos(options: ChaosOptions): Promise<ExperimentResult[]> {
  const named = (name: string) => EXPERIMENTS.find((e) => e.name === name);
  const unknown = (options.experiments ?? []).filter((e): e is string => typeof e === 'string' && !named(e));
  if (unknown.length) throw new Error(`unknown experiment(s) ${unknown.join(', ')}; known: ${EXPERIMENTS.map((e) => e.name).join(', ')}`);
  const chosen = options.experiments ? options.experiments.map((e) => (typeof e === 'string' ? named(e)! : e)) : EXPERIMENTS;
  const trials = options.trials ?? 3;
  const deadlineMs = options.deadlineMs ?? 180_000;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-chaos-'));
  // Conditional PUTs enforced as on AWS S3 (LanceDB commits with them): no process-wide commit
  // lock then hides what a retried, lost commit does.
  const s3 = await startS3({ faults: { seed: options.seed ?? 1 }, conditionalWrites: true });
  let worker: Worker | undefined;
  try {
    const bucket = await s3.bucket('chaos');
    const targetOf = (e: Experiment) => e.target ?? 'worker';
    const needsCatalog = chosen.some((e) => targetOf(e) === 'worker');
    const entries = needsCatalog ? await uploadCatalog(tmp, bucket, options.images ?? 40) : [];
    const shardUri = `${bucket}/shard.jsonl`;
    if (needsCatalog) await writeAtomic(shardUri, entries.map((e) => JSON.stringify({ uri: e.uri, image_id: e.id })).join('\n') + '\n');
    const needsWorker = chosen.some((e) => targetOf(e) === 'worker' || targetOf(e) === 'serve');
    if (needsWorker) worker = await createWorker(
      parseWorkerConfig({
        artifacts: path.join(tmp, 'artifacts'),
        batchSize: 8,
        partSize: 10,
        concurrency: 16,
        fetchTimeoutMs: CHAOS_FETCH_TIMEOUT_MS,
        endRetryPauseMs: 1_000,
        ...options.worker,
      }),
      options.logger,
    );
    const results: ExperimentResult[] = [];
    for (const experiment of chosen) {
      const outcomes: TrialOutcome[] = [];
      for (let trial = 1; trial <= trials; trial++) {
        const base = `${bucket}/out/${experiment.name}/${trial}`;
        const store = { proxy: s3.proxy!, rules: experiment.rules, baseUri: base, deadlineMs };
        const target = targetOf(experiment);
        const outcome: TrialOutcome =
          target === 'worker'
            ? await runTrial(s3, worker!, experiment, shardUri, base, entries, deadlineMs)
            : target === 'serve'
              ? { doubled: 0, recovered: 0, ...(await serveTrial(experiment.attack!, worker!, deadlineMs)) }
              : { recovered: 0, breaches: 0, ...(await (target === 'load' ? loadTrial(store) : ingestTrial(store))) };
        options.onTrial?.(experiment.name, trial, outcome);
        outcomes.push(outcome);
      }
      const sum = (f: (o: TrialOutcome) => number) => outcomes.reduce((n, o) => n + f(o), 0);
      results.push({
        name: experiment.name,
        faults: experiment.faults,
        trials,
        faultsInjected: sum((o) => o.faults),
        lost: sum((o) => o.lost),
        doubled: sum((o) => o.doubled),
        wronglyFailed: sum((o) => o.wronglyFailed),
        hangs: sum((o) => Number(o.hung)),
        crashes: sum((o) => Number(o.crashed)),
        breaches: sum((o) => o.breaches),
        recovered: sum((o) => o.recovered),
        seconds: Math.round(sum((o) => o.seconds) * 10) / 10,
        notes: [...new Set(outcomes.flatMap((o) => o.notes))],
      });
    }
    return results;
  } finally {
    await worker?.close();
    await s3.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** The demo catalog's pictures and broken files, uploaded (no faults yet) under images/. */
async function uploadCatalog(tmp: string, bucket: string, count: number): Promise<CatalogEntry[]> {
  const catalog = await generateDemoCatalog({ dir: path.join(tmp, 'catalog'), count });
  const broken = new Map(catalog.broken.map((b) => [b.uri, b.expect]));
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(path.join(dir, e.name));
      else files.push(path.join(dir, e.name));
    }
  };
  await walk(catalog.imagesDir);
  const entries: CatalogEntry[] = [];
  for (const file of [...files.sort(), ...[...broken.keys()].filter((b) => !files.includes(b))]) {
    const key = `images/${path.relative(catalog.imagesDir, file).split(path.sep).join('/')}`;
    const uri = `${bucket}/${key}`;
    if (files.includes(file)) await writeAtomic(uri, await fs.readFile(file));
    entries.push({ id: `chaos-${entries.length}`, uri, ...(broken.has(file) ? { expect: broken.get(file) } : {}) });
  }
  return entries;
}

async function runTrial(s3: LocalS3, worker: Worker, experiment: Experiment, shardUri: string, outUri: string, entries: CatalogEntry[], deadlineMs: number): Promise<TrialOutcome> {
  const proxy = s3.proxy!;
  const outcome: TrialOutcome = { faults: 0, lost: 0, doubled: 0, wronglyFailed: 0, hung: false, crashed: false, recovered: 0, breaches: 0, seconds: 0, notes: [] };
  const before = proxy.injectedTotal();
  const started = performance.now();
  proxy.setRules(experiment.rules);
  let timer: NodeJS.Timeout | undefined;
  try {
    const run = worker.processShard(shardUri, outUri);
    const deadline = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), deadlineMs)));
    const result = await Promise.race([run, deadline]);
    if (result === 'hung') {
      outcome.hung = true;
      // Let the run finish before the next trial changes the faults under it.
      await run.catch(() => undefined);
    } else {
      outcome.recovered = result.summary.end_retry?.recovered ?? 0;
    }
  } catch (err) {
    outcome.crashed = true;
    outcome.notes.push(`crash: ${(err as Error).message.slice(0, 200)}`);
  } finally {
    clearTimeout(timer);
    outcome.seconds = (performance.now() - started) / 1000;
    outcome.faults = proxy.injectedTotal() - before;
    proxy.setRules([]);
  }
  if (!outcome.crashed && !outcome.hung) Object.assign(outcome, await check(outUri, entries, outcome.notes));
  return outcome;
}

/** Compares the shard's output with what each entry must give. */
async function check(outUri: string, entries: CatalogEntry[], notes: string[]): Promise<Pick<TrialOutcome, 'lost' | 'doubled' | 'wronglyFailed'>> {
  const seen = new Map<string, number>();
  const failedWith = new Map<string, string>();
  for (const name of (await listNames(outUri)).filter((n) => n.endsWith('.arrow'))) {
    for (const id of readArrowFile(await readBytes(joinUri(outUri, name))).getChild('image_id')!.toArray() as string[]) seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  const errorsText = await readText(joinUri(outUri, 'errors.jsonl'));
  for (const line of errorsText.split('\n').filter(Boolean)) {
    const e = JSON.parse(line) as { image_id: string; error_code: string; message: string };
    seen.set(e.image_id, (seen.get(e.image_id) ?? 0) + 1);
    failedWith.set(e.image_id, e.error_code);
    if (!entries.find((x) => x.id === e.image_id)?.expect) notes.push(`${e.error_code}: ${e.message.slice(0, 160)}`);
  }
  const summary = JSON.parse(await readText(joinUri(outUri, 'summary.json'))) as { input: number; succeeded: number; failed: number };
  let lost = 0;
  let doubled = 0;
  let wronglyFailed = 0;
  for (const e of entries) {
    const n = seen.get(e.id) ?? 0;
    if (n === 0) lost++;
    if (n > 1) doubled++;
    const code = failedWith.get(e.id);
    if (code !== e.expect) wronglyFailed += n > 0 ? 1 : 0;
  }
  if (summary.input !== entries.length || summary.succeeded + summary.failed !== summary.input) {
    notes.push(`summary counts ${summary.input} in, ${summary.succeeded} ok, ${summary.failed} failed for ${entries.length} entries`);
    doubled += Math.max(0, summary.succeeded + summary.failed - entries.length);
  }
  return { lost, doubled, wronglyFailed };
}

/** The results as a Markdown table. */
export function chaosTable(results: ExperimentResult[]): string {
  const header = ['experiment', 'trials', 'faults injected', 'faults', 'lost', 'doubled', 'wrongly failed', 'hangs', 'crashes', 'breaches', 'recovered at end', 'seconds'];
  const rows = results.map((r) => [r.name, r.trials, r.faultsInjected, r.faults, r.lost, r.doubled, r.wronglyFailed, r.hangs, r.crashes, r.breaches, r.recovered, r.seconds].map(String));
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
