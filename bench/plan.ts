/**
 * Planning benchmark: generates an S3 Inventory report (CSV.gz data files, the real
 * manifest.json shape) of N keys in F files into a temporary folder, then plans it with the real
 * planning steps, each split task in its own process (as each is its own Lambda in AWS), and
 * reports keys/s and peak RSS per task, and the projected planning time of 500M keys at the
 * deployed Distributed Map concurrency. Nothing it generates is kept.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { writeInventory } from '../lib/core/backfill/demo/inventory';
import { DEFAULT_FILTER, finishPlan, planInputs, splitInput } from '../lib/core/backfill/plan-steps';

const run = promisify(execFile);
const REPO_ROOT = path.resolve(__dirname, '..');

export interface PlanBenchOptions {
  keys: number;
  files: number;
  shardSize: number;
  /** Split tasks at once (the machine's cores, not the deployed concurrency). */
  parallel: number;
  /** The deployed planning Map concurrency, for the projection. @default 100 */
  deployedConcurrency: number;
  log: (message: string) => void;
}

export interface PlanTaskFigure {
  input: number;
  keys: number;
  seconds: number;
  keysPerSecond: number;
  peakRssMiB: number;
}

/** One split task in this process (what the child runs): prints its figures as JSON. */
export async function runSplitTask(workUri: string, runId: string, input: number): Promise<void> {
  const started = process.hrtime.bigint();
  const outcome = await splitInput(workUri, runId, input);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  console.log(JSON.stringify({ input, keys: outcome.lines, seconds, keysPerSecond: Math.round(outcome.lines / seconds), peakRssMiB }));
}

export async function runPlanBench(o: PlanBenchOptions) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-bench-plan-'));
  try {
    const perFile = Math.ceil(o.keys / o.files);
    const t0 = Date.now();
    function* keysOf(f: number) {
      for (let i = f * perFile; i < Math.min(o.keys, (f + 1) * perFile); i++) yield `hotels/h${i % 100_000}/room photo ${i}.jpg`;
    }
    const inventory = await writeInventory({
      destinationUri: path.join(dir, 'inventory-bucket'),
      sourceBucket: 'hotel-photos',
      files: Array.from({ length: o.files }, (_, f) => ({ [Symbol.iterator]: () => keysOf(f) })),
    });
    o.log(`generated ${inventory.keys} keys in ${inventory.dataFiles} CSV.gz files in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const work = path.join(dir, 'work');
    const runId = 'bench';
    const t1 = Date.now();
    const inputs = await planInputs(work, runId, { kind: 'inventory', uri: inventory.manifestUri }, {
      shardSize: o.shardSize, maxArraySize: 10_000, waveConcurrency: 3, partitionBytes: 256 * 1024 ** 2, filter: DEFAULT_FILTER,
    });
    const listSeconds = (Date.now() - t1) / 1000;
    const tasks: PlanTaskFigure[] = [];
    let next = 0;
    const worker = async () => {
      while (next < inputs.files.length) {
        const input = next++;
        const { stdout } = await run(process.execPath, [path.join(REPO_ROOT, 'bin', 'vista.js'), 'bench', 'plan', '--task-split', String(input), '--work', work, '--run-id', runId], {
          cwd: REPO_ROOT,
          maxBuffer: 1024 * 1024,
        });
        const figure = JSON.parse(stdout.trim().split('\n').pop()!) as PlanTaskFigure;
        tasks.push(figure);
        o.log(`split ${input}: ${figure.keys} keys in ${figure.seconds.toFixed(1)} s (${figure.keysPerSecond} keys/s), peak RSS ${figure.peakRssMiB} MiB`);
      }
    };
    const t2 = Date.now();
    await Promise.all(Array.from({ length: Math.max(1, o.parallel) }, worker));
    const splitWallSeconds = (Date.now() - t2) / 1000;
    const t3 = Date.now();
    const summary = await finishPlan(work, runId);
    const finishSeconds = (Date.now() - t3) / 1000;

    tasks.sort((a, b) => a.input - b.input);
    const rates = tasks.map((t) => t.keysPerSecond).sort((a, b) => a - b);
    const medianRate = rates[Math.floor(rates.length / 2)];
    const target = 500_000_000;
    // 500M keys in files as large as these, split deployedConcurrency at a time, then the finish step's copies.
    const projectedFiles = Math.ceil(target / perFile);
    const rounds = Math.ceil(projectedFiles / o.deployedConcurrency);
    const projectedSplitSeconds = rounds * (perFile / medianRate);
    const projectedFinishSeconds = finishSeconds * (target / summary.entries);
    return {
      keys: inventory.keys,
      files: inventory.dataFiles,
      shardSize: o.shardSize,
      shards: summary.shardCount,
      counts: { lines: summary.lines, entries: summary.entries, filtered: summary.filtered, invalid: summary.invalid.count },
      listSeconds,
      splitWallSeconds,
      finishSeconds,
      perTask: { medianKeysPerSecond: medianRate, minKeysPerSecond: rates[0], maxPeakRssMiB: Math.max(...tasks.map((t) => t.peakRssMiB)), tasks },
      projection500M: {
        deployedConcurrency: o.deployedConcurrency,
        filesOfThisSize: projectedFiles,
        splitMinutes: Math.round((projectedSplitSeconds / 60) * 10) / 10,
        finishMinutes: Math.round((projectedFinishSeconds / 60) * 10) / 10,
        note: 'split rounds × per-file time at the median keys/s; finish scaled linearly from this run (local copies: S3 CopyObject differs)',
      },
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
