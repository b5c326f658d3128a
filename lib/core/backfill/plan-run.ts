/**
 * The planning steps as the shard function runs them (one function, four events): the Shard
 * step fixes the run's id, locations and inputs; SplitInput and DedupPartition (Distributed
 * Maps) write chunks; FinishPlan writes the shards and returns the plan every later state works
 * from (small: URIs are derived, not listed). See plan-steps.ts.
 */
import type { BackfillConfig } from './config';
import type { PlanningState, RunPlan, ShardEvent } from './events';
import { assertRunId, runLayout } from './layout';
import type { PlanSource } from './plan-inputs';
import { DEFAULT_FILTER, finishPlan, planInputs, type PlanInputs, type PlanSummary } from './plan-steps';
import { planWaves } from './waves';
import { SystemErrorCode, VistaError } from '../errors';
import { writeJsonAtomic } from '../io/location';
import { runPlanUri } from './status';

/**
 * What one execution's state can carry. The SplitInputs map iterates `inputIndexes` and the Load
 * map `shardIndexes` (≈ 6 bytes an index), inside Step Functions' 256 KiB payload limit: past
 * these the execution would fail with States.DataLimitExceeded, which no Catch can take. 500M
 * images at the default 400,000 a shard are 1,250 shards.
 */
export const MAX_SHARDS_PER_RUN = 25_000;
export const MAX_INPUT_FILES_PER_RUN = 25_000;

export interface RunLimits {
  /** @default MAX_SHARDS_PER_RUN */
  maxShards?: number;
  /** @default MAX_INPUT_FILES_PER_RUN */
  maxInputFiles?: number;
}

export function planSource(input: ShardEvent['input']): PlanSource {
  if (input.inventoryUri) return { kind: 'inventory', uri: input.inventoryUri };
  if (input.manifestPrefix) return { kind: 'prefix', uri: input.manifestPrefix };
  return { kind: 'manifest', uri: input.manifestUri! };
}

export async function startPlan(event: ShardEvent, config: BackfillConfig, limits: RunLimits = {}): Promise<{ state: PlanningState; inputs: PlanInputs }> {
  const maxInputFiles = limits.maxInputFiles ?? MAX_INPUT_FILES_PER_RUN;
  const { input } = event;
  const runId = assertRunId(input.runId ?? event.executionName);
  const source = planSource(input);
  const inputs = await planInputs(input.workUri, runId, source, {
    shardSize: input.shardSize ?? config.defaultShardSize,
    maxArraySize: input.maxArraySize ?? config.maxArraySize,
    waveConcurrency: input.waveConcurrency ?? config.waveConcurrency,
    partitions: input.partitions,
    partitionBytes: config.partitionBytes,
    filter: { keyPrefix: input.keyPrefix ?? DEFAULT_FILTER.keyPrefix, suffixes: input.imageSuffixes ?? DEFAULT_FILTER.suffixes },
  });
  if (inputs.files.length > maxInputFiles) {
    throw new VistaError(
      SystemErrorCode.CONFIG_INVALID,
      `${source.kind} ${source.uri} has ${inputs.files.length} input files; one execution takes at most ${maxInputFiles} (its state carries one index per file): merge manifest files, or split the catalog across runs`,
    );
  }
  const state: PlanningState = {
    runId,
    source,
    workUri: input.workUri,
    dbUri: input.dbUri,
    modelUri: input.modelUri ?? config.defaultModelUri,
    maxArraySize: input.maxArraySize ?? config.maxArraySize,
    waveConcurrency: input.waveConcurrency ?? config.waveConcurrency,
    newTable: input.newTable ?? false,
    inputIndexes: inputs.files.map((_, i) => i),
    partitionIndexes: Array.from({ length: inputs.partitions }, (_, p) => p),
  };
  return { state, inputs };
}

export async function finishRunPlan(state: PlanningState, limits: RunLimits = {}): Promise<{ plan: RunPlan; summary: PlanSummary }> {
  const maxShards = limits.maxShards ?? MAX_SHARDS_PER_RUN;
  const summary = await finishPlan(state.workUri, state.runId);
  if (summary.shardCount > maxShards) {
    throw new VistaError(
      SystemErrorCode.CONFIG_INVALID,
      `run ${state.runId} planned ${summary.shardCount} shards of ${summary.shardSize}; one execution takes at most ${maxShards} (its state carries one index per shard): ` +
        `start a new run id with a shard size of at least ${Math.ceil(summary.entries / maxShards)}`,
    );
  }
  const layout = runLayout(state.workUri, state.runId);
  const plan: RunPlan = {
    runId: state.runId,
    source: state.source,
    workUri: state.workUri,
    dbUri: state.dbUri,
    modelUri: state.modelUri,
    shardsUri: layout.shardsUri,
    resultsUri: layout.resultsUri,
    shardSize: summary.shardSize,
    shardCount: summary.shardCount,
    shardCountText: String(summary.shardCount),
    waves: planWaves(state.runId, summary.shardCount, state.maxArraySize),
    maxArraySize: state.maxArraySize,
    waveConcurrency: state.waveConcurrency,
    newTable: state.newTable,
    shardIndexes: Array.from({ length: summary.shardCount }, (_, i) => i),
    entries: summary.entries,
  };
  const { shardIndexes: _indexes, ...stored } = plan;
  await writeJsonAtomic(runPlanUri(state.workUri, state.runId), stored);
  return { plan, summary };
}
