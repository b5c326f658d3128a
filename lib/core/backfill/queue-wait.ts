/**
 * How long a Batch job queue has had work waiting without starting any: the figure behind the
 * "jobs stuck RUNNABLE" alarm (a G-instance quota of 0, Spot starvation, a compute environment
 * that cannot launch). AWS Batch publishes no queue metrics, so a scheduled Lambda
 * (lambdas/queue-watch.ts) lists the queue's jobs with ListJobs and emits these figures.
 *
 * Array jobs: listing a queue returns array parents, not their children; the children (the
 * shards) are listed per parent with `arrayJobId`.
 *
 * Why "stalled" and not only "oldest RUNNABLE": a backfill wave of 10,000 shards on a few dozen
 * GPUs keeps most of its children RUNNABLE for hours while the queue works as it should, so the
 * oldest RUNNABLE age alone says nothing. The queue is stuck when jobs wait *and* none has started
 * for a while: stalled = min(oldest RUNNABLE age, time since the latest start of a running job);
 * with nothing running it is the oldest RUNNABLE age.
 */
import { z } from 'zod';
import { SystemErrorCode, VistaError } from '../errors';
import type { MetricEmitter } from '../metrics';
import { JOB_QUEUE_DIMENSION, QueueMetric } from '../metrics-names';

/** The fields of a Batch JobSummary this reads (epoch milliseconds). */
export interface QueueJobSummary {
  jobId?: string;
  status?: string;
  createdAt?: number;
  startedAt?: number;
  stoppedAt?: number;
  arrayProperties?: { size?: number; index?: number };
}

export type ListableStatus = 'PENDING' | 'RUNNABLE' | 'STARTING' | 'RUNNING';

/** One ListJobs call: by queue, or the children of one array job. */
export type ListJobsRequest = ({ jobQueue: string } | { arrayJobId: string }) & { jobStatus: ListableStatus; nextToken?: string };
export type ListJobsPage = { jobSummaryList?: QueueJobSummary[]; nextToken?: string };
export type ListJobs = (request: ListJobsRequest) => Promise<ListJobsPage>;

export interface QueueWait {
  jobQueue: string;
  /** RUNNABLE jobs and array children (parents not counted). */
  runnable: number;
  /** STARTING and RUNNING jobs and array children. */
  running: number;
  /** Seconds since the longest-waiting RUNNABLE job became runnable; 0 when none waits. */
  oldestRunnableAgeSeconds: number;
  /** Seconds jobs have waited with no job of the queue starting; 0 when none waits. */
  stalledSeconds: number;
}

const ACTIVE: readonly ListableStatus[] = ['STARTING', 'RUNNING'];
/** Statuses an array parent can have while some of its children are not finished. */
const PARENT_STATUSES: readonly ListableStatus[] = ['PENDING', 'RUNNABLE', 'STARTING', 'RUNNING'];

/** Every page of one ListJobs listing. */
export async function listAll(listJobs: ListJobs, request: ListJobsRequest): Promise<QueueJobSummary[]> {
  const jobs: QueueJobSummary[] = [];
  let nextToken: string | undefined;
  do {
    const page = await listJobs({ ...request, ...(nextToken ? { nextToken } : {}) });
    jobs.push(...(page.jobSummaryList ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return jobs;
}

function isArrayParent(job: QueueJobSummary): boolean {
  return job.arrayProperties?.size !== undefined && job.arrayProperties.index === undefined;
}

/**
 * When a RUNNABLE job started waiting: its creation, or, for an attempt retried after a Spot
 * reclaim or a crash, the end of its previous attempt (JobSummary has no "runnable since").
 */
export function runnableSince(job: QueueJobSummary): number {
  return Math.max(job.createdAt ?? 0, job.stoppedAt ?? 0);
}

export async function measureQueueWait(listJobs: ListJobs, jobQueue: string, now: number): Promise<QueueWait> {
  const byStatus = new Map<ListableStatus, Map<string, QueueJobSummary>>(PARENT_STATUSES.map((s) => [s, new Map()]));
  const keep = (status: ListableStatus, jobs: QueueJobSummary[]) => {
    for (const job of jobs) if (!isArrayParent(job)) byStatus.get(status)!.set(job.jobId ?? `${status}-${byStatus.get(status)!.size}`, job);
  };
  const parents = new Set<string>();
  for (const status of PARENT_STATUSES) {
    const jobs = await listAll(listJobs, { jobQueue, jobStatus: status });
    for (const job of jobs) if (isArrayParent(job) && job.jobId) parents.add(job.jobId);
    keep(status, jobs);
  }
  for (const arrayJobId of parents) {
    for (const status of ['RUNNABLE', ...ACTIVE] as ListableStatus[]) keep(status, await listAll(listJobs, { arrayJobId, jobStatus: status }));
  }

  const runnable = [...byStatus.get('RUNNABLE')!.values()];
  const active = ACTIVE.flatMap((s) => [...byStatus.get(s)!.values()]);
  const seconds = (ms: number) => Math.max(0, Math.round((now - ms) / 1000));
  // reduce, not Math.min(...): a wave lists up to 10,000 children.
  const oldestRunnableAgeSeconds = runnable.length === 0 ? 0 : seconds(runnable.reduce((m, j) => Math.min(m, runnableSince(j)), Infinity));
  // A STARTING job has no startedAt yet: it is starting now, which is progress.
  const latestStart = active.length === 0 ? undefined : active.reduce((m, j) => Math.max(m, j.startedAt ?? now), 0);
  const stalledSeconds = runnable.length === 0 ? 0 : latestStart === undefined ? oldestRunnableAgeSeconds : Math.min(oldestRunnableAgeSeconds, seconds(latestStart));
  return { jobQueue, runnable: runnable.length, running: active.length, oldestRunnableAgeSeconds, stalledSeconds };
}

/** Environment of the queue watch: the job queues to watch, by name or ARN, comma-separated. */
export const QUEUE_WATCH_ENV = { jobQueues: 'VISTA_WATCHED_JOB_QUEUES' } as const;

export function readWatchedQueues(env: NodeJS.ProcessEnv): string[] {
  const parsed = z
    .string({ message: `${QUEUE_WATCH_ENV.jobQueues} is not set` })
    .transform((v) => v.split(',').map((q) => q.trim()).filter((q) => q !== ''))
    .pipe(z.array(z.string()).min(1, `${QUEUE_WATCH_ENV.jobQueues} names no job queue`))
    .safeParse(env[QUEUE_WATCH_ENV.jobQueues]);
  if (!parsed.success) throw new VistaError(SystemErrorCode.CONFIG_INVALID, parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
}

/** Measures each queue and emits its figures as one metric record (dimension: the queue as named). */
export async function watchQueues(listJobs: ListJobs, jobQueues: string[], now: number, metrics: MetricEmitter<QueueMetric>): Promise<QueueWait[]> {
  const waits: QueueWait[] = [];
  for (const jobQueue of jobQueues) {
    const wait = await measureQueueWait(listJobs, jobQueue, now);
    metrics.emit(
      {
        [QueueMetric.RunnableJobs]: { value: wait.runnable, unit: 'Count' },
        [QueueMetric.RunningJobs]: { value: wait.running, unit: 'Count' },
        [QueueMetric.OldestRunnableAge]: { value: wait.oldestRunnableAgeSeconds, unit: 'Seconds' },
        [QueueMetric.StalledSeconds]: { value: wait.stalledSeconds, unit: 'Seconds' },
      },
      { [JOB_QUEUE_DIMENSION]: jobQueue },
    );
    waits.push(wait);
  }
  return waits;
}
