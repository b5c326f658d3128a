/**
 * Configuration of the backfill steps, read once from the environment (the Lambda functions'
 * environment in AWS, the process environment locally) and validated.
 */
import { z } from 'zod';
import { SystemErrorCode, VistaError } from '../errors';
import { MAX_BATCH_ARRAY_SIZE } from './layout';

/**
 * 400,000 images: ~15 minutes of a default 8-vCPU GPU instance (2xlarge) at ~450 images/s
 * (docs/backfill.md has the arithmetic over measured rates), so a Spot reclaim costs little.
 */
export const DEFAULT_SHARD_SIZE = 400_000;
/** Waves at once: 3 × 10,000 children is far more than a queue's vCPUs run anyway. */
export const DEFAULT_WAVE_CONCURRENCY = 3;
/**
 * Input files split, and partitions deduplicated, at once by the planning Distributed Maps of the
 * state machine (`BackfillWorkflow`'s `planConcurrency` default; the stack keeps it), and what
 * `npm run bench:plan` projects the 500M planning time with.
 */
export const DEFAULT_PLAN_CONCURRENCY = 100;

export const BACKFILL_ENV = {
  defaultShardSize: 'VISTA_DEFAULT_SHARD_SIZE',
  maxArraySize: 'VISTA_MAX_ARRAY_SIZE',
  waveConcurrency: 'VISTA_WAVE_CONCURRENCY',
  partitionBytes: 'VISTA_PARTITION_BYTES',
  defaultModelUri: 'VISTA_DEFAULT_MODEL_URI',
  reportConcurrency: 'VISTA_REPORT_CONCURRENCY',
} as const;

const int = (min: number, max: number, fallback: number) =>
  z.preprocess((v) => (v === undefined || v === '' ? fallback : Number(v)), z.number().int().min(min).max(max));

const envSchema = z.object({
  /** Entries per shard when the execution input does not say (~15 minutes of one GPU instance: docs/backfill.md). */
  [BACKFILL_ENV.defaultShardSize]: int(1, 10_000_000, DEFAULT_SHARD_SIZE),
  /** Children per Batch array job (wave); Batch allows 10,000. */
  [BACKFILL_ENV.maxArraySize]: int(2, MAX_BATCH_ARRAY_SIZE, MAX_BATCH_ARRAY_SIZE),
  /** Waves (array jobs) running at once. */
  [BACKFILL_ENV.waveConcurrency]: int(1, 100, DEFAULT_WAVE_CONCURRENCY),
  /** Uncompressed manifest bytes per partition of the duplicate pass (bounds one task's memory). */
  [BACKFILL_ENV.partitionBytes]: int(1, 4 * 1024 ** 3, 256 * 1024 ** 2),
  /** Model folder passed to the workers when the execution input has none ("" = worker default). */
  [BACKFILL_ENV.defaultModelUri]: z.string().default(''),
  /** Shard summaries read at once by the report step. */
  [BACKFILL_ENV.reportConcurrency]: int(1, 256, 32),
});

export interface BackfillConfig {
  defaultShardSize: number;
  maxArraySize: number;
  waveConcurrency: number;
  partitionBytes: number;
  defaultModelUri: string;
  reportConcurrency: number;
}

export function readBackfillConfig(env: NodeJS.ProcessEnv = process.env): BackfillConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `invalid backfill environment: ${issues}`);
  }
  const e = parsed.data;
  return {
    defaultShardSize: e[BACKFILL_ENV.defaultShardSize],
    maxArraySize: e[BACKFILL_ENV.maxArraySize],
    waveConcurrency: e[BACKFILL_ENV.waveConcurrency],
    partitionBytes: e[BACKFILL_ENV.partitionBytes],
    defaultModelUri: e[BACKFILL_ENV.defaultModelUri],
    reportConcurrency: e[BACKFILL_ENV.reportConcurrency],
  };
}
