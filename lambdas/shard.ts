/**
 * Lambda: the backfill's planning steps (lib/core/backfill/plan-run, plan-steps), one event each:
 * the execution input (Shard: list the inputs), `split` (one input file), `dedup` (one partition),
 * `finish` (write the shards, return the run plan). Environment: see lib/core/backfill/config.ts.
 */
import { readBackfillConfig } from '../lib/core/backfill/config';
import { dedupEventSchema, finishPlanEventSchema, parseEvent, shardEventSchema, splitEventSchema } from '../lib/core/backfill/events';
import { finishRunPlan, startPlan } from '../lib/core/backfill/plan-run';
import { dedupPartition, splitInput } from '../lib/core/backfill/plan-steps';
import { makeLogger, type Logger } from '../lib/core/log';
import { withStepErrorNames } from '../lib/core/backfill/step-errors';

export function makeShardHandler(logger: Logger): (event: unknown) => Promise<unknown> {
  return withStepErrorNames(async (event) => {
    const step = (event as { step?: unknown } | null)?.step;
    if (step === 'split') {
      const e = parseEvent(splitEventSchema, event, 'split');
      const outcome = await splitInput(e.workUri, e.runId, e.inputIndex);
      logger.info('input split', { run_id: e.runId, input: e.inputIndex, file: outcome.file, lines: outcome.lines, kept: outcome.kept, invalid: outcome.invalid.count, filtered: outcome.filtered });
      return { index: e.inputIndex };
    }
    if (step === 'dedup') {
      const e = parseEvent(dedupEventSchema, event, 'dedup');
      const outcome = await dedupPartition(e.workUri, e.runId, e.partitionIndex);
      logger.info('partition deduplicated', { run_id: e.runId, partition: e.partitionIndex, entries: outcome.entries, duplicates: outcome.duplicates.count });
      return { index: e.partitionIndex };
    }
    if (step === 'finish') {
      const { plan, summary } = await finishRunPlan(parseEvent(finishPlanEventSchema, event, 'finish').planning);
      logger.info('run planned', {
        run_id: plan.runId,
        shards: plan.shardCount,
        waves: plan.waves.length,
        shard_size: plan.shardSize,
        entries: plan.entries,
        lines: summary.lines,
        blank_lines: summary.blankLines,
        invalid_lines: summary.invalid.count,
        filtered: summary.filtered,
        duplicates: summary.duplicates.count,
        ...(summary.invalid.count > 0 ? { invalid_examples: summary.invalid.examples } : {}),
        ...(summary.duplicates.count > 0 ? { duplicate_examples: summary.duplicates.examples } : {}),
      });
      return plan;
    }
    const { state, inputs } = await startPlan(parseEvent(shardEventSchema, event, 'shard'), readBackfillConfig());
    logger.info('inputs listed', { run_id: state.runId, source: state.source, files: inputs.files.length, partitions: inputs.partitions });
    return state;
  });
}

export const handler = makeShardHandler(makeLogger());
