/**
 * Configuration of the backfill steps, read once from the environment (the Lambda functions'
 * environment in AWS, the process environment locally) and validated.
 */
import { z } from 'zod';
import { SystemErrorCode, VistaError } from '../errors';
import { MAX_BATCH_ARRAY_SIZE } from './layout';

export const BACKFILL_ENV = {
  defaultShardSize: 'VISTA_DEFAULT_SHARD_SIZE',
  maxShards: 'VISTA_MAX_SHARDS',
  defaultModelUri: 'VISTA_DEFAULT_MODEL_URI',
  reportConcurrency: 'VISTA_REPORT_CONCURRENCY',
} as const;

const int = (min: number, max: number, fallback: number) =>
  z.preprocess((v) => (v === undefined || v === '' ? fallback : Number(v)), z.number().int().min(min).max(max));

const envSchema = z.object({
  /** Entries per shard when the execution input does not say. */
  [BACKFILL_ENV.defaultShardSize]: int(1, 10_000_000, 1_000_000),
  /** Above this many shards the shard step grows the shard size (Batch allows 10,000 children). */
  [BACKFILL_ENV.maxShards]: int(1, MAX_BATCH_ARRAY_SIZE, MAX_BATCH_ARRAY_SIZE),
  /** Model folder passed to the workers when the execution input has none ("" = worker default). */
  [BACKFILL_ENV.defaultModelUri]: z.string().default(''),
  /** Shard summaries read at once by the report step. */
  [BACKFILL_ENV.reportConcurrency]: int(1, 256, 32),
});

export interface BackfillConfig {
  defaultShardSize: number;
  maxShards: number;
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
    maxShards: e[BACKFILL_ENV.maxShards],
    defaultModelUri: e[BACKFILL_ENV.defaultModelUri],
    reportConcurrency: e[BACKFILL_ENV.reportConcurrency],
  };
}
