/**
 * Names of the worker's CloudWatch metrics, shared by the emitter (lib/core/metrics.ts) and the
 * dashboard and alarms (lib/infra/observability.ts): a renamed metric must break both, not
 * silently leave a graph empty.
 */
export const METRICS_NAMESPACE = 'Vista';

export const WorkerMetric = {
  /** Images enriched and written to a result part (Count). */
  ImagesProcessed: 'ImagesProcessed',
  /** Images that ended as a failure (Count); also emitted per `ErrorCode` dimension at shard end. */
  ImagesFailed: 'ImagesFailed',
  /** A shard's throughput, emitted once when it completes (Count/Second). */
  ImagesPerSecond: 'ImagesPerSecond',
  /** Shards completed (Count). */
  ShardsCompleted: 'ShardsCompleted',
} as const;

export type WorkerMetric = (typeof WorkerMetric)[keyof typeof WorkerMetric];

/** The real-time ingest's metrics (lambdas/realtime-ingest.ts), one record per run. */
export const IngestMetric = {
  /** Inbox records ingested by the run (Count). */
  RecordsIngested: 'RealtimeRecordsIngested',
  /** Age of the oldest record left in the inbox when the run ends (Seconds): how far search lags uploads. */
  InboxOldestAge: 'RealtimeInboxOldestAgeSeconds',
  /** Rows of the store's images table outside the vector index (Count): searched exactly; an index run folds them in. */
  UnindexedRows: 'StoreUnindexedRows',
} as const;

export type IngestMetric = (typeof IngestMetric)[keyof typeof IngestMetric];

/** Dimension of the ingest's metrics: the function's name. */
export const FUNCTION_DIMENSION = 'FunctionName';

/** Dimension of `ImagesFailed` naming the per-image error code (an `ImageErrorCode`). */
export const ERROR_CODE_DIMENSION = 'ErrorCode';

/**
 * AWS Batch publishes no per-job metrics: the stack turns Batch's "Job State Change" events into
 * this count (a metric filter on their log group), one series per `Status` (RUNNABLE, RUNNING,
 * SUCCEEDED, FAILED, …). It counts transitions, not jobs currently in a state.
 */
export const BATCH_JOB_STATE_METRIC = 'BatchJobStateChanges';
export const BATCH_JOB_STATUS_DIMENSION = 'Status';

/**
 * The job-queue watch's metrics (lambdas/queue-watch.ts, lib/core/backfill/queue-wait.ts), one
 * record per queue every few minutes, dimension `JobQueue`: Batch publishes no queue metrics.
 */
export const QueueMetric = {
  /** RUNNABLE jobs and array children (Count). */
  RunnableJobs: 'BatchRunnableJobs',
  /** STARTING and RUNNING jobs and array children (Count). */
  RunningJobs: 'BatchRunningJobs',
  /** Age of the longest-waiting RUNNABLE job (Seconds). */
  OldestRunnableAge: 'BatchOldestRunnableAgeSeconds',
  /** Seconds jobs have waited RUNNABLE with no job of the queue starting (Seconds): the stuck-queue alarm's metric. */
  StalledSeconds: 'BatchQueueStalledSeconds',
} as const;

export type QueueMetric = (typeof QueueMetric)[keyof typeof QueueMetric];

/** Dimension of the queue watch's metrics: the job queue's name. */
export const JOB_QUEUE_DIMENSION = 'JobQueue';
