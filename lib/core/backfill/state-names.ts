/**
 * Names of the backfill state machine's states. The CDK construct names its states with these,
 * and the local runner binds its local implementations to the same names.
 */
export const BackfillState = {
  shard: 'Shard',
  splitInputs: 'SplitInputs',
  splitInput: 'SplitInput',
  dedupPartitions: 'DedupPartitions',
  dedupPartition: 'DedupPartition',
  finishPlan: 'FinishPlan',
  embed: 'Embed',
  embedWave: 'EmbedWave',
  embedWaveDone: 'EmbedWaveDone',
  embedWaveFailed: 'EmbedWaveFailed',
  load: 'Load',
  loadShard: 'LoadShard',
  recordLoadFailure: 'RecordLoadFailure',
  index: 'Index',
  indexHandedOff: 'IndexHandedOff',
  indexOnBatch: 'IndexOnBatch',
  report: 'Report',
  checkReport: 'AllShardsSucceeded',
  succeeded: 'BackfillSucceeded',
  failed: 'BackfillFailed',
} as const;

/** The Fail state's error name, for alarms and callers. */
export const BACKFILL_FAILED_ERROR = 'Vista.BackfillIncomplete';

/** The Batch index job's container command (the worker image) and where it finds the database. */
export const INDEX_JOB_COMMAND = ['node', 'bin/vista.js', 'backfill', 'index', '--from-env'];
export const INDEX_JOB_DB_ENV = 'VISTA_DB_URI';
/**
 * Rows from which the index step hands the build to the Batch index job (Lambda has 15 minutes):
 * measured, docs/benchmarks.md "Index build fit" (an IVF_RQ build of 1M rows: 45–86 s on 2 vCPUs).
 */
export const DEFAULT_INDEX_JOB_MIN_ROWS = 1_000_000;

/** The Lambda functions of the backfill, by role (each runs one handler module of lambdas/). */
export const BackfillFunction = { shard: 'shard', load: 'load', index: 'index', report: 'report' } as const;
export type BackfillFunctionRole = (typeof BackfillFunction)[keyof typeof BackfillFunction];

/** The Batch jobs of the backfill, by role: the GPU workers' array jobs and the index job. */
export const BackfillBatchJob = { worker: 'worker', index: 'index-job' } as const;
export type BackfillBatchJobRole = (typeof BackfillBatchJob)[keyof typeof BackfillBatchJob];

/** What a Task state runs: `lambda:<function role>` or `batch:<job role>`. */
export type TaskTarget = `lambda:${BackfillFunctionRole}` | `batch:${BackfillBatchJobRole}`;

/**
 * The wiring: every Task state of the definition and the one function or job it must run. Tests
 * hold the synthesized definition to it; the local runner does not use it (it resolves a handler
 * from each state's own resource), so a state wired to the wrong function fails both.
 */
export const TASK_TARGETS: Record<string, TaskTarget> = {
  [BackfillState.shard]: `lambda:${BackfillFunction.shard}`,
  [BackfillState.splitInput]: `lambda:${BackfillFunction.shard}`,
  [BackfillState.dedupPartition]: `lambda:${BackfillFunction.shard}`,
  [BackfillState.finishPlan]: `lambda:${BackfillFunction.shard}`,
  [BackfillState.embedWave]: `batch:${BackfillBatchJob.worker}`,
  [BackfillState.loadShard]: `lambda:${BackfillFunction.load}`,
  [BackfillState.recordLoadFailure]: `lambda:${BackfillFunction.load}`,
  [BackfillState.index]: `lambda:${BackfillFunction.index}`,
  [BackfillState.indexOnBatch]: `batch:${BackfillBatchJob.index}`,
  [BackfillState.report]: `lambda:${BackfillFunction.report}`,
};
