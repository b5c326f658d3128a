/**
 * Why individual children of a Batch array job failed. The state machine only learns that the
 * array failed; the report asks Batch which children did and why (exit code, reason), so that a
 * person reading it knows where to look. Best effort: without `batch:ListJobs` the report still
 * names the failed shards from their missing summary.json.
 */
import { BatchClient, ListJobsCommand } from '@aws-sdk/client-batch';

export interface FailedChild {
  index: number;
  reason: string;
  exitCode?: number;
  /** Where the child's logs are (a CloudWatch stream, a local file). */
  logs?: string;
}

export type ListFailedChildren = (arrayJobId: string) => Promise<FailedChild[]>;

export const listFailedChildrenFromBatch: ListFailedChildren = async (arrayJobId) => {
  const client = new BatchClient({});
  const failed: FailedChild[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await client.send(new ListJobsCommand({ arrayJobId, jobStatus: 'FAILED', nextToken }));
      for (const job of page.jobSummaryList ?? []) {
        const index = job.arrayProperties?.index;
        if (index === undefined) continue;
        failed.push({
          index,
          reason: [job.statusReason, job.container?.reason].filter(Boolean).join(': ') || 'failed',
          ...(job.container?.exitCode !== undefined ? { exitCode: job.container.exitCode } : {}),
        });
      }
      nextToken = page.nextToken;
    } while (nextToken);
  } catch {
    // Best effort (see above).
  } finally {
    client.destroy();
  }
  return failed;
};
