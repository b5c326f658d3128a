/**
 * Lambda on a schedule: lists the watched Batch job queues' waiting and running jobs (array
 * children included) and emits how long work has waited without a job starting, for the
 * stuck-queue alarm (lib/core/backfill/queue-wait.ts).
 * Environment: VISTA_WATCHED_JOB_QUEUES (QUEUE_WATCH_ENV).
 */
import { BatchClient, ListJobsCommand } from '@aws-sdk/client-batch';
import { type ListJobs, readWatchedQueues, type QueueWait, watchQueues } from '../lib/core/backfill/queue-wait';
import { makeLogger } from '../lib/core/log';
import { type MetricEmitter, makeEmfEmitter } from '../lib/core/metrics';
import type { QueueMetric } from '../lib/core/metrics-names';

/** ListJobs through the SDK: the largest page Batch allows. */
export function batchListJobs(client: BatchClient): ListJobs {
  return async (request) => {
    const page = await client.send(new ListJobsCommand({ ...request, maxResults: 1000 }));
    return { jobSummaryList: page.jobSummaryList, nextToken: page.nextToken };
  };
}

export function makeQueueWatchHandler(
  listJobs: ListJobs,
  env: () => NodeJS.ProcessEnv = () => process.env,
  metrics: MetricEmitter<QueueMetric> = makeEmfEmitter<QueueMetric>(),
  logger = makeLogger({ json: true }),
  now: () => number = Date.now,
): () => Promise<QueueWait[]> {
  return async () => {
    const waits = await watchQueues(listJobs, readWatchedQueues(env()), now(), metrics);
    for (const w of waits) {
      logger.info('job queue', { job_queue: w.jobQueue, runnable: w.runnable, running: w.running, oldest_runnable_s: w.oldestRunnableAgeSeconds, stalled_s: w.stalledSeconds });
    }
    return waits;
  };
}

export const handler = makeQueueWatchHandler(batchListJobs(new BatchClient({})));
