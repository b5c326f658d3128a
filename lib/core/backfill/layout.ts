/**
 * Where a backfill run keeps its files. Every step derives URIs from (workUri, runId, shard
 * index) with these functions, so the state machine only passes small values around and the
 * shard step, the workers, the loaders and the report can never disagree about a path.
 *
 *   <work>/runs/<runId>/shards/shard-NNNNN.jsonl      input of one Batch child
 *   <work>/runs/<runId>/shards/_manifest.json         written last by the shard step: counts
 *   <work>/runs/<runId>/results/shard-NNNNN/          worker output (summary.json written last)
 *   <work>/runs/<runId>/loads/shard-NNNNN.json        outcome of loading that shard into LanceDB
 *   <work>/runs/<runId>/report.json                   the run report
 */
import { SystemErrorCode, VistaError } from '../errors';
import { joinUri } from '../io/location';
import { shardFileName, shardResultsName } from '../pipeline/batch-job';

/** AWS Batch refuses array jobs with more children than this. */
export const MAX_BATCH_ARRAY_SIZE = 10_000;
/** …and with fewer than this, so a one-shard run still submits two children (the extra one idles). */
export const MIN_BATCH_ARRAY_SIZE = 2;

export const SHARD_MANIFEST_FILE = '_manifest.json';
export const SUMMARY_FILE = 'summary.json';
export const REPORT_FILE = 'report.json';

/** Run ids name executions, Batch jobs and folders: keep them to what all three accept. */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/;

export function assertRunId(runId: string): string {
  if (!RUN_ID.test(runId)) {
    throw new VistaError(
      SystemErrorCode.CONFIG_INVALID,
      `runId "${runId}" must be 1-80 characters of letters, digits, "-" or "_", starting with a letter or digit`,
    );
  }
  return runId;
}

/** `shard-00042`: the shard's id within its run, in results, loads and the report. */
export function shardId(index: number): string {
  return shardResultsName(index);
}

/**
 * `<runId>/shard-00042`: the shard's id in the store (its rows' `shard_id` and its ledger key).
 * Runs share one store and all number their shards from 0: without the run, the second run's
 * shard-00000 would take the first run's rows for an older attempt of itself and prune them.
 */
export function storeShardId(runId: string, index: number): string {
  return `${runId}/${shardId(index)}`;
}

/** Index from an id such as `shard-00042`, or undefined. */
export function shardIndexFromId(id: string): number | undefined {
  const match = /^shard-(\d{5,})$/.exec(id);
  return match ? Number(match[1]) : undefined;
}

export interface RunLayout {
  runUri: string;
  shardsUri: string;
  shardManifestUri: string;
  resultsUri: string;
  loadsUri: string;
  reportUri: string;
  shardUri(index: number): string;
  shardResultsUri(index: number): string;
  shardSummaryUri(index: number): string;
  loadOutcomeUri(index: number): string;
}

export function runLayout(workUri: string, runId: string): RunLayout {
  const runUri = joinUri(workUri, 'runs', assertRunId(runId));
  const shardsUri = joinUri(runUri, 'shards');
  const resultsUri = joinUri(runUri, 'results');
  const loadsUri = joinUri(runUri, 'loads');
  const shardResultsUri = (index: number) => joinUri(resultsUri, shardResultsName(index));
  return {
    runUri,
    shardsUri,
    shardManifestUri: joinUri(shardsUri, SHARD_MANIFEST_FILE),
    resultsUri,
    loadsUri,
    reportUri: joinUri(runUri, REPORT_FILE),
    shardUri: (index) => joinUri(shardsUri, shardFileName(index)),
    shardResultsUri,
    shardSummaryUri: (index) => joinUri(shardResultsUri(index), SUMMARY_FILE),
    loadOutcomeUri: (index) => joinUri(loadsUri, `${shardId(index)}.json`),
  };
}

/** Batch array size for a shard count: at least 2 (a Batch rule); the extra child exits 0. */
export function batchArraySize(shardCount: number): number {
  return Math.max(MIN_BATCH_ARRAY_SIZE, shardCount);
}
