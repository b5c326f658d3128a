import * as os from 'node:os';
import * as path from 'node:path';
import { formatRunReport } from '../../core/backfill/format-report';
import { describeCause } from '../../core/backfill/events';
import { runLocalBackfill, newRunId, type LocalBackfillResult } from '../../core/backfill/local-runner';
import { watchRunProgress } from '../../core/backfill/progress-watch';
import { formatRunStatus, readRunStatus } from '../../core/backfill/status';
import type { RunReport } from '../../core/backfill/report';
import { readJson, exists } from '../../core/io/location';
import { isS3Uri } from '../../core/io/s3';
import { makeLogger, type Logger } from '../../core/log';
import { type CliCommand, checkLocalFile, countOpt, stringOpt, usageError } from '../command';
import { makeProgress } from '../progress';

const options = {
  manifest: { type: 'string' },
  inventory: { type: 'string' },
  'manifest-prefix': { type: 'string' },
  'max-array-size': { type: 'string' },
  'wave-concurrency': { type: 'string' },
  'key-prefix': { type: 'string' },
  partitions: { type: 'string' },
  'new-table': { type: 'boolean' },
  work: { type: 'string' },
  db: { type: 'string' },
  'shard-size': { type: 'string' },
  model: { type: 'string' },
  workers: { type: 'string' },
  'run-id': { type: 'string' },
  attempts: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export const command: CliCommand = {
  name: 'backfill',
  summary: 'Run the backfill state machine locally: shard, enrich with local workers, load into LanceDB, report',
  usage: [
    'vista backfill (--manifest URI | --inventory MANIFEST_JSON | --manifest-prefix URI) --work DIR|s3://… --db DIR|s3://… [options]',
    '',
    '  --manifest URI     one URI per line, or JSONL {"uri", "image_id"?, "hotel_id"?, "hotel_name"?, "city"?}; .gz ok',
    '  --inventory URI    an S3 Inventory report\'s manifest.json (CSV / CSV.gz data files; keys unique, no dedup pass)',
    '  --manifest-prefix URI  a folder or s3:// prefix of manifest files; duplicates across files kept once',
    '  --key-prefix P     inventory: only keys under P (image suffixes only: .jpg .jpeg .png .webp …)',
    '  --partitions N     manifests: hash partitions of the duplicate pass (default: from the inputs\' size)',
    '  --max-array-size N children per Batch array job, i.e. shards per wave (default 10000)',
    '  --wave-concurrency N  waves (array jobs) at once (default 3)',
    '  --work URI         run folder: shards, worker results, load outcomes, report.json',
    '  --db URI           LanceDB database (folder or s3:// prefix)',
    '  --shard-size N     entries per shard (default 1000)',
    '  --model URI        CLIP model folder (default: tiny random model, meaningless tags)',
    '  --workers N        worker processes at once (default: min(cores, shards))',
    '  --run-id ID        run id (default backfill-<time>-<random>); re-using one resumes that run',
    '  --attempts N       attempts per shard worker (default 1)',
    '  --new-table        let this run\'s model replace the store\'s: its tables are dropped by the first load',
    '                     (without it a store holding another model refuses the load: STORE_MODEL_MISMATCH, exit 2)',
    '  --json             JSON log lines even in a terminal',
    '',
    'Runs the same Step Functions definition as AWS (aws-local-stepfunctions), with the Lambda steps',
    'in-process and the Batch array job as local `vista worker --from-env` processes.',
    '',
    'vista backfill index --db DIR|s3://…   (or --from-env: VISTA_DB_URI; the Batch index job)',
    '  builds the LanceDB indexes and prints the index report as JSON',
    '',
    'vista backfill status --work DIR|s3://… --run-id ID [--json]',
    '  shards done / running / failed per wave, images/s and ETA of a local or AWS run, from its files',
  ].join('\n'),
  options,
  positionals: ['status'],
  async run(values, positionals) {
    if (positionals[0] === 'status') return statusCommand(stringOpt(values, 'work'), stringOpt(values, 'run-id'), values.json === true);
    const manifest = stringOpt(values, 'manifest');
    const inventory = stringOpt(values, 'inventory');
    const manifestPrefix = stringOpt(values, 'manifest-prefix');
    const work = stringOpt(values, 'work');
    const db = stringOpt(values, 'db');
    if ([manifest, inventory, manifestPrefix].filter(Boolean).length !== 1) throw usageError('give exactly one of --manifest, --inventory, --manifest-prefix');
    if (!work || !db) throw usageError('--work and --db are required');
    if (manifest) checkLocalFile('manifest', manifest, 'the manifest file (one URI per line, or JSONL)');
    if (inventory) checkLocalFile('inventory', inventory, "the inventory report's manifest.json");
    const result = await runBackfillWithProgress({
      manifestUri: manifest,
      inventoryUri: inventory,
      manifestPrefix,
      maxArraySize: countOpt(values, 'max-array-size'),
      waveConcurrency: countOpt(values, 'wave-concurrency'),
      keyPrefix: stringOpt(values, 'key-prefix'),
      partitions: countOpt(values, 'partitions'),
      newTable: values['new-table'] === true,
      workUri: work,
      dbUri: db,
      shardSize: countOpt(values, 'shard-size', 1000),
      modelUri: stringOpt(values, 'model'),
      workers: countOpt(values, 'workers'),
      runId: stringOpt(values, 'run-id'),
      attempts: countOpt(values, 'attempts', undefined, { max: 10 }),
      logger: makeLogger({ json: values.json === true ? true : undefined }),
      tty: values.json !== true && Boolean(process.stderr.isTTY),
    });
    await printReport(result);
    return result.status === 'SUCCEEDED' ? 0 : 1;
  },
};

export interface BackfillRunOptions {
  manifestUri?: string;
  inventoryUri?: string;
  manifestPrefix?: string;
  maxArraySize?: number;
  waveConcurrency?: number;
  keyPrefix?: string;
  partitions?: number;
  newTable?: boolean;
  workUri: string;
  dbUri: string;
  shardSize?: number;
  modelUri?: string;
  workers?: number;
  runId?: string;
  attempts?: number;
  logger: Logger;
  tty: boolean;
}

/** The local run with a live view of the workers' progress (a bar in a terminal, log lines otherwise). */
export async function runBackfillWithProgress(o: BackfillRunOptions): Promise<TimedBackfillResult> {
  const started = performance.now();
  const runId = o.runId ?? newRunId();
  const workUri = isS3Uri(o.workUri) ? o.workUri : path.resolve(o.workUri);
  const progress = makeProgress('images', o.logger, { tty: o.tty });
  const watcher = watchRunProgress({
    workUri,
    runId,
    intervalMs: o.tty ? 500 : 2000,
    onUpdate: (p) =>
      p.entries !== undefined &&
      progress.update({ done: p.processed, total: p.entries, counters: { shards_done: p.shardsDone, of: p.shardCount ?? 0, failed: p.failed } }),
  });
  try {
    const result = await runLocalBackfill({
      ...o,
      workUri,
      runId,
      workers: o.workers ?? os.availableParallelism(),
      // With a bar on screen, per-state lines would tear it: keep only warnings and errors.
      logger: o.tty ? quiet(o.logger) : o.logger,
    });
    return { ...result, wallSeconds: (performance.now() - started) / 1000 };
  } finally {
    await watcher.stop();
    progress.stop();
  }
}

/** The local run's result and how long it took in all, set-up included. */
export type TimedBackfillResult = LocalBackfillResult & { wallSeconds?: number };

export async function printReport(result: TimedBackfillResult): Promise<void> {
  // Only this execution's report: a failure before the report step leaves an older one in place.
  if (result.report && (await exists(result.reportUri))) {
    console.log(formatRunReport(await readJson<RunReport>(result.reportUri), result.reportUri, { wallSeconds: result.wallSeconds }));
  }
  if (result.status !== 'SUCCEEDED') console.log(`\nExecution FAILED: ${result.error}: ${describeCause(result.cause)}`);
}

/** Where a run stands, from its files (local or S3): works for an AWS execution too. */
async function statusCommand(work: string | undefined, runId: string | undefined, json: boolean): Promise<number> {
  if (!work || !runId) throw Object.assign(new Error('backfill status needs --work and --run-id'), { code: 'ERR_PARSE_ARGS_USAGE' });
  const status = await readRunStatus(isS3Uri(work) ? work : path.resolve(work), runId);
  console.log(json ? JSON.stringify(status) : formatRunStatus(status));
  return 0;
}

function quiet(logger: Logger): Logger {
  return { ...logger, info: () => undefined, log: (level, m, f) => level !== 'info' && logger.log(level, m, f) };
}
