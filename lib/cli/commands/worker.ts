import { makeLogger, type Logger } from '../../core/log';
import { makeEmfEmitter, noMetrics, type MetricEmitter } from '../../core/metrics';
import { WorkerMetric } from '../../core/metrics-names';
import { BATCH_ENV, resolveBatchAssignment } from '../../core/pipeline/batch-job';
import { countShardEntries } from '../../core/pipeline/shard-reader';
import { createWorker } from '../../core/pipeline/worker';
import { parseWorkerConfig } from '../../core/pipeline/worker-config';
import { type CliCommand, type CliValues, checkLocalFile, choiceOpt, countOpt, stringOpt, usageError } from '../command';
import { makeProgress } from '../progress';

const options = {
  shard: { type: 'string' },
  out: { type: 'string' },
  model: { type: 'string' },
  'batch-size': { type: 'string' },
  'part-size': { type: 'string' },
  concurrency: { type: 'string' },
  provider: { type: 'string' },
  taxonomy: { type: 'string' },
  artifacts: { type: 'string' },
  threads: { type: 'string' },
  'from-env': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

export const command: CliCommand = {
  name: 'worker',
  summary: 'Enrich one shard of image URIs: tags, SEO filenames and CLIP embeddings as Arrow files',
  usage: [
    'vista worker --shard FILE|s3://… --out DIR|s3://… [options]',
    'vista worker --from-env            (AWS Batch array job: shard from AWS_BATCH_JOB_ARRAY_INDEX)',
    '',
    '  --shard URI        JSONL ({"uri", "image_id"?, "hotel_id"?, "hotel_name"?, "city"?}) or one URI per line; .gz ok',
    '  --out URI          result folder: part-NNNNN.arrow, errors.jsonl, summary.json (written last)',
    '  --model URI        Hugging Face ONNX CLIP export (local or s3://). Default: tiny random model (meaningless tags)',
    '  --batch-size N     images per model call (default 64)',
    '  --part-size N      entries per result part, the unit of resume (default 1024)',
    '  --concurrency N    images fetched+decoded at once (default 4 × cores, min 8)',
    '  --provider P       auto | cuda | webgpu | cpu (default auto)',
    '  --taxonomy URI     taxonomy JSON (default: bundled hotel taxonomy)',
    '  --artifacts URI    label-bank cache (default .vista/artifacts)',
    '  --threads N        onnxruntime intra-op threads (default: all cores)',
    '  --json             JSON log lines even in a terminal',
    '',
    `Container mode reads ${Object.values(BATCH_ENV).join(', ')}.`,
  ].join('\n'),
  options,
  async run(values) {
    const fromEnv = values['from-env'] === true;
    const logger = makeLogger({ json: values.json === true || fromEnv ? true : undefined });
    const config = parseWorkerConfig(fromEnv ? configFromEnv(process.env) : configFromFlags(values));

    let shardUri: string;
    let outUri: string;
    if (fromEnv) {
      const assignment = resolveBatchAssignment(process.env);
      if (assignment.kind === 'idle') {
        logger.info('nothing to do', { array_index: assignment.index, reason: assignment.reason });
        return 0;
      }
      ({ shardUri, outUri } = assignment);
    } else {
      const shard = stringOpt(values, 'shard');
      const out = stringOpt(values, 'out');
      if (!shard || !out) throw usageError('--shard and --out are required (or --from-env)');
      checkLocalFile('shard', shard, 'one shard file (JSONL or one URI per line)');
      shardUri = shard;
      outUri = out;
    }

    const log = logger.child({ shard: shardUri });
    const metrics: MetricEmitter = fromEnv ? makeEmfEmitter() : noMetrics;
    const worker = await createWorker(config, log);
    try {
      return await runOne(worker, shardUri, outUri, log, metrics);
    } finally {
      await worker.close();
    }
  },
};

async function runOne(
  worker: Awaited<ReturnType<typeof createWorker>>,
  shardUri: string,
  outUri: string,
  log: Logger,
  metrics: MetricEmitter,
): Promise<number> {
  const total = await countShardEntries(shardUri);
  const progress = makeProgress('images', log);
  let result: Awaited<ReturnType<typeof worker.processShard>>;
  try {
    result = await worker.processShard(shardUri, outUri, {
      onProgress: (p) =>
        progress.update({ done: p.processed + p.resumed, total, counters: { ok: p.succeeded, failed: p.failed, resumed: p.resumed } }),
      onPartWritten: (m) =>
        metrics.emit({
          [WorkerMetric.ImagesProcessed]: { value: m.succeeded, unit: 'Count' },
          [WorkerMetric.ImagesFailed]: { value: m.failed, unit: 'Count' },
        }),
    });
  } finally {
    // Also on failure: the error message must not land in the middle of a progress line.
    progress.stop();
  }
  const { summary, skipped } = result;
  if (skipped) {
    log.info('shard already complete: skipped', { out: outUri, input: summary.input });
    return 0;
  }
  for (const [code, count] of Object.entries(summary.failed_by_code)) {
    metrics.emit({ [WorkerMetric.ImagesFailed]: { value: count, unit: 'Count' } }, { ErrorCode: code });
  }
  metrics.emit({
    [WorkerMetric.ShardsCompleted]: { value: 1, unit: 'Count' },
    [WorkerMetric.ImagesPerSecond]: { value: summary.images_per_second, unit: 'Count/Second' },
  });
  log.info('shard complete', {
    out: outUri,
    input: summary.input,
    succeeded: summary.succeeded,
    failed: summary.failed,
    failed_by_code: summary.failed_by_code,
    ...(summary.end_retry?.retried ? { retried_at_end: summary.end_retry.retried, recovered: summary.end_retry.recovered } : {}),
    images_per_second: summary.images_per_second,
  });
  return 0;
}

function configFromFlags(values: CliValues): Record<string, unknown> {
  return dropUndefined({
    model: stringOpt(values, 'model'),
    provider: choiceOpt(values, 'provider', ['auto', 'cuda', 'webgpu', 'cpu']),
    taxonomy: stringOpt(values, 'taxonomy'),
    artifacts: stringOpt(values, 'artifacts'),
    batchSize: countOpt(values, 'batch-size', undefined, { max: 4096 }),
    partSize: countOpt(values, 'part-size'),
    concurrency: countOpt(values, 'concurrency', undefined, { max: 1024 }),
    intraOpThreads: countOpt(values, 'threads'),
  });
}

function configFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const int = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  return dropUndefined({
    model: env[BATCH_ENV.modelUri] || undefined,
    provider: env[BATCH_ENV.provider] || undefined,
    taxonomy: env[BATCH_ENV.taxonomyUri] || undefined,
    artifacts: env[BATCH_ENV.artifactsUri] || undefined,
    batchSize: int(env[BATCH_ENV.batchSize]),
    intraOpThreads: int(env[BATCH_ENV.threads]),
  });
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
