/**
 * The worker's configuration: one zod-validated object at the edge (CLI flags or container
 * environment), slices of it passed down to each stage.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { SystemErrorCode, VistaError } from '../errors';

/** Where the random-weight tiny model lives when no model is given (generated on first use). */
export const DEFAULT_MODEL_DIR = path.resolve(__dirname, '..', '..', '..', '.vista', 'models', 'tiny');
export const DEFAULT_ARTIFACTS_DIR = path.resolve(__dirname, '..', '..', '..', '.vista', 'artifacts');

export const workerConfigSchema = z.object({
  /** Model folder (local or s3://) in the Hugging Face ONNX CLIP layout. Absent: the tiny random model. */
  model: z.string().min(1).optional(),
  provider: z.enum(['auto', 'cuda', 'webgpu', 'cpu']).default('auto'),
  /**
   * Run the model in a worker thread (default). onnxruntime-node infers synchronously on the calling
   * thread, so in the main thread each model call would stall fetching and decoding.
   */
  modelThread: z.boolean().default(true),
  /** Threads onnxruntime may use; default all cores. */
  intraOpThreads: z.number().int().positive().optional(),
  /** Taxonomy file (local or s3://). Absent: the bundled hotel taxonomy. */
  taxonomy: z.string().min(1).optional(),
  /** Where label banks are cached (local or s3://). */
  artifacts: z.string().min(1).default(DEFAULT_ARTIFACTS_DIR),
  batchSize: z.number().int().min(1).max(4096).default(64),
  partSize: z.number().int().min(1).default(1024),
  /** Entries fetched+decoded at once. Default: enough to keep every core and the model busy. */
  concurrency: z.number().int().min(1).max(1024).default(Math.max(8, os.availableParallelism() * 4)),
  /**
   * Threads that decode and preprocess, writing pixels straight into shared memory the model
   * thread reads (the main thread then only moves batches). 0 decodes on the main thread's event
   * loop (sharp on libuv's pool, normalization on the main thread), as before. Default: one per core.
   */
  decodeThreads: z.number().int().min(0).max(256).default(os.availableParallelism()),
  maxBytes: z.number().int().positive().default(50 * 1024 * 1024),
  maxPixels: z.number().int().positive().default(40_000_000),
  fetchTimeoutMs: z.number().int().positive().default(30_000),
  fetchRetries: z.number().int().min(0).max(20).default(4),
  /** Attempts after the first for a throttled fetch (503 SlowDown, 429), which also lowers the fetch concurrency. */
  fetchThrottleRetries: z.number().int().min(0).max(30).default(10),
  /** Backoff bases of fetch retries (ms); lowered only by tests and `vista chaos`. */
  fetchRetryBaseDelayMs: z.number().int().min(0).default(200),
  fetchThrottleBaseDelayMs: z.number().int().min(0).default(1_000),
  /** Pause before the end-of-shard retry of images that failed for a transient reason. */
  endRetryPauseMs: z.number().int().min(0).default(5_000),
});

export type WorkerConfig = z.infer<typeof workerConfigSchema>;

export function parseWorkerConfig(input: unknown): WorkerConfig {
  const parsed = workerConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `invalid worker configuration: ${issues}`);
  }
  return parsed.data;
}
