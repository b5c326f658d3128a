/**
 * The payloads that travel between the backfill's states. The state machine passes these JSON
 * values; each step validates what it receives here, so a mistake in the definition shows up as
 * a clear REQUEST_INVALID error naming the field, not as an undefined deep inside a step.
 */
import { z } from 'zod';
import { SystemErrorCode, VistaError } from '../errors';

/** What an execution is started with: exactly one of inventoryUri, manifestPrefix, manifestUri. */
export const executionInputSchema = z
  .object({
    /** One manifest file (one URI per line, or JSONL), .gz allowed. */
    manifestUri: z.string().min(1).optional(),
    /** An S3 Inventory report's manifest.json (CSV data files). */
    inventoryUri: z.string().min(1).optional(),
    /** A folder or prefix of manifest files. */
    manifestPrefix: z.string().min(1).optional(),
    workUri: z.string().min(1),
    dbUri: z.string().min(1),
    shardSize: z.number().int().positive().optional(),
    /** Children per Batch array job (a wave); default from the shard function's environment. */
    maxArraySize: z.number().int().min(2).max(10_000).optional(),
    /** Waves running at once. */
    waveConcurrency: z.number().int().min(1).max(100).optional(),
    /** Inventory: only keys under this prefix. */
    keyPrefix: z.string().optional(),
    /** Inventory: only keys with one of these suffixes (case-insensitive). */
    imageSuffixes: z.array(z.string().min(1)).optional(),
    /** Manifests: partitions of the duplicate pass (default: from the inputs' size). */
    partitions: z.number().int().min(1).max(10_000).optional(),
    /** Defaults to the execution's name. */
    runId: z.string().min(1).optional(),
    /** Model folder for the workers; defaults to the shard step's configured default. */
    modelUri: z.string().min(1).optional(),
    /**
     * Let this run's model replace the store's: a store refuses another model's embeddings
     * (STORE_MODEL_MISMATCH) unless asked; the first load then drops the tables. @default false
     */
    newTable: z.boolean().optional(),
  })
  .refine((i) => [i.manifestUri, i.inventoryUri, i.manifestPrefix].filter(Boolean).length === 1, {
    message: 'give exactly one of inventoryUri, manifestPrefix, manifestUri',
  });
export type ExecutionInput = z.infer<typeof executionInputSchema>;

export const shardEventSchema = z.object({
  input: executionInputSchema,
  executionName: z.string().min(1),
});
export type ShardEvent = z.infer<typeof shardEventSchema>;

const planSourceSchema = z.object({ kind: z.enum(['inventory', 'prefix', 'manifest']), uri: z.string() });

/** The Shard step's output: the state while the input files are split and partitions deduplicated. */
export const planningStateSchema = z.object({
  runId: z.string(),
  source: planSourceSchema,
  workUri: z.string(),
  dbUri: z.string(),
  /** "" = the worker's own default (the Batch container override must be a string). */
  modelUri: z.string(),
  maxArraySize: z.number().int(),
  waveConcurrency: z.number().int(),
  /** The execution input's newTable (always present: the Load map's item selector reads it). */
  newTable: z.boolean().default(false),
  /** [0 … input files-1]: what the SplitInputs Map iterates over. */
  inputIndexes: z.array(z.number().int()),
  /** [0 … partitions-1] (empty for an inventory): what the DedupPartitions Map iterates over. */
  partitionIndexes: z.array(z.number().int()),
});
export type PlanningState = z.infer<typeof planningStateSchema>;

export const splitEventSchema = z.object({ step: z.literal('split'), runId: z.string(), workUri: z.string(), inputIndex: z.number().int().min(0) });
export const dedupEventSchema = z.object({ step: z.literal('dedup'), runId: z.string(), workUri: z.string(), partitionIndex: z.number().int().min(0) });
export const finishPlanEventSchema = z.object({ step: z.literal('finish'), planning: planningStateSchema });

const waveSchema = z.object({
  wave: z.number().int(),
  firstShard: z.number().int(),
  firstShardText: z.string(),
  shardCount: z.number().int(),
  arraySize: z.number().int(),
  jobName: z.string(),
});

/**
 * The FinishPlan step's output, which becomes the whole state for the rest of the execution: the
 * normalized run plus what the Batch step needs as ready-made strings.
 */
export const runPlanSchema = z.object({
  runId: z.string(),
  source: planSourceSchema,
  workUri: z.string(),
  dbUri: z.string(),
  modelUri: z.string(),
  shardsUri: z.string(),
  resultsUri: z.string(),
  shardSize: z.number().int(),
  shardCount: z.number().int(),
  /** `shardCount` as a string, for the container environment. */
  shardCountText: z.string(),
  /** The Batch array jobs, each ≤ maxArraySize children. */
  waves: z.array(waveSchema),
  maxArraySize: z.number().int(),
  /** Waves running at once (the Embed Map's MaxConcurrency). */
  waveConcurrency: z.number().int(),
  /** Loads may replace the store's model (drops its tables once). */
  newTable: z.boolean().default(false),
  /** [0 … shardCount-1]: what the load Map iterates over. */
  shardIndexes: z.array(z.number().int()),
  entries: z.number().int(),
});
export type RunPlan = z.infer<typeof runPlanSchema>;

/** How Step Functions describes a caught error (`Catch` with a ResultPath). */
export const stateErrorSchema = z.object({ Error: z.string(), Cause: z.string().optional().nullable() });
export type StateError = z.infer<typeof stateErrorSchema>;

export const loadEventSchema = z.object({
  runId: z.string(),
  workUri: z.string(),
  dbUri: z.string(),
  shardIndex: z.number().int().min(0),
  /** Load even if the store holds another model's embeddings (its tables are dropped first). */
  newTable: z.boolean().optional(),
  /** Present when the load of this shard failed after its retries: record it instead of loading. */
  error: stateErrorSchema.optional(),
});
export type LoadEvent = z.infer<typeof loadEventSchema>;

export const indexEventSchema = z.object({
  dbUri: z.string().min(1),
  /** From this many rows on, leave the build to the Batch index job (absent: always build here). */
  batchFromRows: z.number().int().min(0).optional(),
});
export type IndexEvent = z.infer<typeof indexEventSchema>;

/** One wave's outcome in the Embed Map's result: its job, or the error its Catch kept. */
export const waveOutcomeSchema = z.object({
  wave: z.number().int(),
  jobId: z.string().optional(),
  status: z.string().optional(),
  error: stateErrorSchema.optional(),
});
export type WaveOutcome = z.infer<typeof waveOutcomeSchema>;

export const reportEventSchema = z.object({
  run: runPlanSchema.extend({
    embed: z.array(waveOutcomeSchema).optional(),
    /** The Embed Map itself failed (not one wave: those are caught per wave). */
    embedError: stateErrorSchema.optional(),
    /** The load Map itself failed (not one shard: those are recorded per shard). */
    loadError: stateErrorSchema.optional(),
    index: z.object({ result: z.unknown() }).optional(),
    indexJob: z.object({ jobId: z.string().optional(), status: z.string().optional() }).optional(),
    indexError: stateErrorSchema.optional(),
  }),
  startedAt: z.string().optional(),
});
export type ReportEvent = z.infer<typeof reportEventSchema>;

/** Validates a step's event; the error names every bad field. */
export function parseEvent<T>(schema: z.ZodType<T>, event: unknown, what: string): T {
  const parsed = schema.safeParse(event);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || what}: ${i.message}`).join('; ');
    throw new VistaError(SystemErrorCode.REQUEST_INVALID, `invalid ${what} event: ${issues}`);
  }
  return parsed.data;
}

/** A Lambda error's Cause is JSON ({errorMessage, errorType, …}), a Batch one a job description: keep the message. */
export function describeCause(cause: string | null | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string; StatusReason?: string };
    if (parsed.errorMessage) return parsed.errorMessage;
    if (parsed.StatusReason) return parsed.StatusReason;
  } catch {
    // not JSON: already a message
  }
  return cause.length > 1000 ? `${cause.slice(0, 1000)}…` : cause;
}
