import { SystemErrorCode, VistaError } from '../errors';

/** Environment of the inference container (a SageMaker model's Environment), read by `vista serve`. */
export const SERVING_ENV = {
  modelUri: 'VISTA_MODEL_URI',
  taxonomyUri: 'VISTA_TAXONOMY_URI',
  artifactsUri: 'VISTA_ARTIFACTS_URI',
  provider: 'VISTA_PROVIDER',
  /** Comma-separated URI prefixes requests may ask the server to fetch (e.g. `s3://uploads-bucket/`). */
  allowedUriPrefixes: 'VISTA_ALLOWED_URI_PREFIXES',
  maxBatchSize: 'VISTA_MAX_BATCH_SIZE',
  /** SageMaker's own variable for the port its container must listen on. */
  port: 'SAGEMAKER_BIND_TO_PORT',
} as const;

/** Environment of the real-time Lambdas (API and upload trigger). */
export const REALTIME_LAMBDA_ENV = {
  /** The SageMaker endpoint serving `vista serve` (production). */
  endpointName: 'VISTA_INFERENCE_ENDPOINT_NAME',
  /**
   * The asynchronous endpoint (`uploadInference: 'async'`): set on the upload function, which then
   * queues InvokeEndpointAsync requests instead of calling the synchronous endpoint (async-upload.ts).
   */
  asyncEndpointName: 'VISTA_ASYNC_INFERENCE_ENDPOINT_NAME',
  /** Or a plain HTTP base URL of `vista serve` (local runs, tests, a non-SageMaker deployment). */
  inferenceUrl: 'VISTA_INFERENCE_URL',
  /** Where the upload trigger writes each image's result (`<image_id>.json`) or error (`<image_id>.error.json`). */
  resultsUri: 'VISTA_REALTIME_RESULTS_URI',
  /** Where every outcome is also dropped for the ingest into LanceDB (realtime-inbox.ts); unset: results only. */
  inboxUri: 'VISTA_REALTIME_INBOX_URI',
  /** The ingest's batches (realtime-ingest.ts). */
  batchesUri: 'VISTA_REALTIME_BATCHES_URI',
  /** The LanceDB database the ingest writes (the backfill's). */
  dbUri: 'VISTA_DB_URI',
  /** Age below which the ingest leaves inbox records for the next run (above the upload function's timeout). */
  settleSeconds: 'VISTA_REALTIME_SETTLE_SECONDS',
} as const;

/** REALTIME_LAMBDA_ENV.settleSeconds as a number of seconds, when set. */
export function settleSecondsFrom(vars: NodeJS.ProcessEnv): number | undefined {
  const raw = vars[REALTIME_LAMBDA_ENV.settleSeconds];
  if (raw === undefined || raw === '') return undefined;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `${REALTIME_LAMBDA_ENV.settleSeconds} must be a whole number of seconds, got "${raw}"`);
  }
  return seconds;
}

/** Where the real-time ingest reads and writes, from the ingest function's environment (also `vista realtime ingest --from-env`). */
export function realtimeIngestEnv(vars: NodeJS.ProcessEnv): { inboxUri: string; batchesUri: string; dbUri: string; settleSeconds?: number } {
  const required = (name: string): string => {
    const value = vars[name];
    if (!value) throw new VistaError(SystemErrorCode.CONFIG_INVALID, `${name} is not set`);
    return value;
  };
  const settleSeconds = settleSecondsFrom(vars);
  return {
    inboxUri: required(REALTIME_LAMBDA_ENV.inboxUri),
    batchesUri: required(REALTIME_LAMBDA_ENV.batchesUri),
    dbUri: required(REALTIME_LAMBDA_ENV.dbUri),
    ...(settleSeconds !== undefined ? { settleSeconds } : {}),
  };
}
