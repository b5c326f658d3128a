/**
 * Names of the backfill state machine's states. The CDK construct names its states with these,
 * and the local runner binds its local implementations to the same names.
 */
export const BackfillState = {
  shard: 'Shard',
  embed: 'Embed',
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

/** Task states that are Lambda invocations, and the handler module each runs. */
export const LAMBDA_TASKS = {
  [BackfillState.shard]: 'shard',
  [BackfillState.loadShard]: 'load',
  [BackfillState.recordLoadFailure]: 'load',
  [BackfillState.index]: 'index-table',
  [BackfillState.report]: 'report',
} as const;
