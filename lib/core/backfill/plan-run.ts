/**
 * The first step of a backfill: fixes the run's id and locations, shards the manifest, and
 * returns the plan every later state works from (small: URIs are derived, not listed).
 */
import type { BackfillConfig } from './config';
import type { RunPlan, ShardEvent } from './events';
import { assertRunId, batchArraySize, runLayout } from './layout';
import { shardManifest, type ShardManifestResult } from './shard-manifest';

export async function planRun(event: ShardEvent, config: BackfillConfig): Promise<{ plan: RunPlan; sharding: ShardManifestResult }> {
  const { input } = event;
  const runId = assertRunId(input.runId ?? event.executionName);
  const layout = runLayout(input.workUri, runId);
  const sharding = await shardManifest({
    manifestUri: input.manifestUri,
    outPrefix: layout.shardsUri,
    shardSize: input.shardSize ?? config.defaultShardSize,
    maxShards: config.maxShards,
  });
  const plan: RunPlan = {
    runId,
    manifestUri: input.manifestUri,
    workUri: input.workUri,
    dbUri: input.dbUri,
    modelUri: input.modelUri ?? config.defaultModelUri,
    shardsUri: layout.shardsUri,
    resultsUri: layout.resultsUri,
    shardSize: sharding.shardSize,
    shardCount: sharding.shardCount,
    shardCountText: String(sharding.shardCount),
    arraySize: batchArraySize(sharding.shardCount),
    shardIndexes: Array.from({ length: sharding.shardCount }, (_, i) => i),
    entries: sharding.entries,
    batchJobName: `vista-backfill-${runId}`,
  };
  return { plan, sharding };
}
