/**
 * AWS Batch array-job mode: which shard this container works on, from its environment.
 * The state machine submits array jobs ("waves") of at most 10,000 children; child i of the wave
 * whose first shard is VISTA_SHARD_OFFSET works on shard offset + i (AWS_BATCH_JOB_ARRAY_INDEX).
 * Batch arrays have at least 2 children, so a child whose shard is past the shard count has
 * nothing to do and exits successfully.
 */
import { z } from 'zod';
import { SystemErrorCode, VistaError } from '../errors';
import { joinUri } from '../io/location';

export const BATCH_ENV = {
  arrayIndex: 'AWS_BATCH_JOB_ARRAY_INDEX',
  shardsUri: 'VISTA_SHARDS_URI',
  resultsUri: 'VISTA_RESULTS_URI',
  shardCount: 'VISTA_SHARD_COUNT',
  /** First shard of this array job (its wave); absent = 0. */
  shardOffset: 'VISTA_SHARD_OFFSET',
  modelUri: 'VISTA_MODEL_URI',
  batchSize: 'VISTA_BATCH_SIZE',
  provider: 'VISTA_PROVIDER',
  taxonomyUri: 'VISTA_TAXONOMY_URI',
  artifactsUri: 'VISTA_ARTIFACTS_URI',
  /** onnxruntime threads; the local runner sets it so that N workers share the cores. */
  threads: 'VISTA_THREADS',
} as const;

const envSchema = z.object({
  [BATCH_ENV.arrayIndex]: z.coerce.number().int().min(0).default(0),
  [BATCH_ENV.shardsUri]: z.string().min(1),
  [BATCH_ENV.resultsUri]: z.string().min(1),
  [BATCH_ENV.shardCount]: z.coerce.number().int().min(1).optional(),
  [BATCH_ENV.shardOffset]: z.coerce.number().int().min(0).default(0),
});

export function shardFileName(index: number): string {
  return `shard-${String(index).padStart(5, '0')}.jsonl`;
}

export function shardResultsName(index: number): string {
  return `shard-${String(index).padStart(5, '0')}`;
}

export type BatchAssignment =
  | { kind: 'shard'; index: number; shardUri: string; outUri: string }
  | { kind: 'idle'; index: number; reason: string };

export function resolveBatchAssignment(env: NodeJS.ProcessEnv): BatchAssignment {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `container environment is incomplete: ${issues}`);
  }
  const index = parsed.data[BATCH_ENV.shardOffset] + parsed.data[BATCH_ENV.arrayIndex];
  const count = parsed.data[BATCH_ENV.shardCount];
  if (count !== undefined && index >= count) {
    return { kind: 'idle', index, reason: `shard ${index} ≥ shard count ${count}` };
  }
  return {
    kind: 'shard',
    index,
    shardUri: joinUri(parsed.data[BATCH_ENV.shardsUri], shardFileName(index)),
    outUri: joinUri(parsed.data[BATCH_ENV.resultsUri], shardResultsName(index)),
  };
}
