/**
 * Lambda on a schedule: real-time outcomes (the upload trigger's inbox records) into LanceDB
 * (lib/core/serving/realtime-ingest). Runs with a concurrency of one; each run first finishes
 * whatever an earlier run left, then ingests batches while time is left.
 * Environment: REALTIME_LAMBDA_ENV.inboxUri, .batchesUri, .dbUri, .settleSeconds (lib/core/serving/serving-env.ts).
 */
import { makeLogger } from '../lib/core/log';
import { type MetricEmitter, makeEmfEmitter } from '../lib/core/metrics';
import { FUNCTION_DIMENSION, IngestMetric } from '../lib/core/metrics-names';
import { realtimeIngestEnv } from '../lib/core/serving/serving-env';
import { ingestRealtime, type RealtimeIngestOptions, type RealtimeIngestResult } from '../lib/core/serving/realtime-ingest';

export function makeIngestHandler(
  env: () => NodeJS.ProcessEnv = () => process.env,
  logger = makeLogger({ json: true }),
  /** Tests: e.g. no settle time. */
  overrides: Partial<RealtimeIngestOptions> = {},
  metrics: MetricEmitter<IngestMetric> = makeEmfEmitter<IngestMetric>(),
): (event?: unknown, context?: { getRemainingTimeInMillis(): number }) => Promise<RealtimeIngestResult> {
  return async (_event, context) => {
    const vars = env();
    const result = await ingestRealtime({
      ...realtimeIngestEnv(vars),
      remainingMs: context ? () => context.getRemainingTimeInMillis() : undefined,
      logger,
      ...overrides,
    });
    const records = result.batches.reduce((n, b) => n + b.records, 0);
    metrics.emit(
      {
        [IngestMetric.RecordsIngested]: { value: records, unit: 'Count' },
        [IngestMetric.InboxOldestAge]: { value: result.oldestPendingSeconds, unit: 'Seconds' },
        [IngestMetric.UnindexedRows]: { value: result.unindexedRows, unit: 'Count' },
      },
      { [FUNCTION_DIMENSION]: vars.AWS_LAMBDA_FUNCTION_NAME ?? 'local' },
    );
    logger.info('realtime ingest run', {
      records,
      oldest_pending_seconds: result.oldestPendingSeconds,
      unindexed_rows: result.unindexedRows,
      batches: result.batches.length,
      rows: result.batches.reduce((n, b) => n + b.rows, 0),
      failed: result.batches.reduce((n, b) => n + b.failed, 0),
      left_in_inbox: result.leftInInbox ?? null,
    });
    return result;
  };
}

export const handler = makeIngestHandler();
