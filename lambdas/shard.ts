/**
 * Lambda: shards the execution's manifest and returns the run plan (lib/core/backfill/plan-run).
 * Environment: see lib/core/backfill/config.ts.
 */
import { readBackfillConfig } from '../lib/core/backfill/config';
import { parseEvent, shardEventSchema, type RunPlan } from '../lib/core/backfill/events';
import { planRun } from '../lib/core/backfill/plan-run';
import { makeLogger, type Logger } from '../lib/core/log';
import { withStepErrorNames } from '../lib/core/backfill/step-errors';

export function makeShardHandler(logger: Logger): (event: unknown) => Promise<RunPlan> {
  return withStepErrorNames(async (event) => {
    const { plan, sharding } = await planRun(parseEvent(shardEventSchema, event, 'shard'), readBackfillConfig());
    logger.info(sharding.reused ? 'manifest already sharded for this run' : 'manifest sharded', {
      run_id: plan.runId,
      shards: plan.shardCount,
      shard_size: plan.shardSize,
      entries: plan.entries,
      blank_lines: sharding.blankLines,
      invalid_lines: sharding.invalid.count,
      duplicates: sharding.duplicates.count,
      ...(sharding.invalid.count > 0 ? { invalid_examples: sharding.invalid.examples } : {}),
      ...(sharding.duplicates.count > 0 ? { duplicate_examples: sharding.duplicates.examples } : {}),
    });
    return plan;
  });
}

export const handler = makeShardHandler(makeLogger());
