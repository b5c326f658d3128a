/**
 * Lambda: writes the run report and returns its compact form, which decides whether the
 * execution succeeds (lib/core/backfill/report).
 */
import { listFailedChildrenFromBatch, type ListFailedChildren } from '../lib/core/backfill/batch-children';
import { readBackfillConfig } from '../lib/core/backfill/config';
import { parseEvent, reportEventSchema } from '../lib/core/backfill/events';
import { buildRunReport, type CompactRunReport } from '../lib/core/backfill/report';
import { withStepErrorNames } from '../lib/core/backfill/step-errors';

export function makeReportHandler(deps: { listFailedChildren: ListFailedChildren }): (event: unknown) => Promise<CompactRunReport> {
  return withStepErrorNames(async (event) => {
    const { reportConcurrency } = readBackfillConfig();
    const { compact } = await buildRunReport(parseEvent(reportEventSchema, event, 'report'), {
      listFailedChildren: deps.listFailedChildren,
      concurrency: reportConcurrency,
    });
    return compact;
  });
}

export const handler = makeReportHandler({ listFailedChildren: listFailedChildrenFromBatch });
