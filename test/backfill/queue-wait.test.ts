/** The stuck-queue figures from fake ListJobs pages: array parents and children, pagination, retried attempts. */
import { makeQueueWatchHandler } from '../../lambdas/queue-watch';
import { type ListJobs, type ListJobsRequest, type QueueJobSummary, measureQueueWait, readWatchedQueues, watchQueues } from '../../lib/core/backfill/queue-wait';
import { makeLogger } from '../../lib/core/log';
import { makeEmfEmitter } from '../../lib/core/metrics';
import { JOB_QUEUE_DIMENSION, METRICS_NAMESPACE, QueueMetric } from '../../lib/core/metrics-names';

const NOW = Date.parse('2026-12-02T12:00:00Z');
const minutesAgo = (m: number) => NOW - m * 60_000;

/** Listings keyed "queue:<name>:<STATUS>" or "array:<id>:<STATUS>", served `pageSize` at a time with offset tokens. */
function fakeListJobs(listings: Record<string, QueueJobSummary[]>, pageSize = 2): { listJobs: ListJobs; calls: ListJobsRequest[] } {
  const calls: ListJobsRequest[] = [];
  const listJobs: ListJobs = async (request) => {
    calls.push(request);
    const key = 'jobQueue' in request ? `queue:${request.jobQueue}:${request.jobStatus}` : `array:${request.arrayJobId}:${request.jobStatus}`;
    const all = listings[key] ?? [];
    const from = Number(request.nextToken ?? 0);
    const next = from + pageSize;
    return { jobSummaryList: all.slice(from, next), ...(next < all.length ? { nextToken: String(next) } : {}) };
  };
  return { listJobs, calls };
}

const parent = (jobId: string, status: string): QueueJobSummary => ({ jobId, status, createdAt: minutesAgo(600), arrayProperties: { size: 10_000 } });
const child = (arrayId: string, index: number, extra: Partial<QueueJobSummary> = {}): QueueJobSummary => ({
  jobId: `${arrayId}:${index}`,
  createdAt: minutesAgo(600),
  arrayProperties: { index },
  ...extra,
});

it('an idle queue waits for nothing', async () => {
  const { listJobs } = fakeListJobs({});
  await expect(measureQueueWait(listJobs, 'gpu', NOW)).resolves.toEqual({ jobQueue: 'gpu', runnable: 0, running: 0, oldestRunnableAgeSeconds: 0, stalledSeconds: 0 });
});

it('a busy wave: children wait for hours, but jobs keep starting, so the queue is not stalled', async () => {
  const { listJobs, calls } = fakeListJobs({
    'queue:gpu:RUNNING': [parent('w0', 'RUNNING')],
    'array:w0:RUNNABLE': Array.from({ length: 7 }, (_, i) => child('w0', 10 + i)),
    'array:w0:RUNNING': [child('w0', 0, { startedAt: minutesAgo(12) }), child('w0', 1, { startedAt: minutesAgo(3) })],
    'array:w0:STARTING': [],
  });
  const wait = await measureQueueWait(listJobs, 'gpu', NOW);
  expect(wait).toEqual({ jobQueue: 'gpu', runnable: 7, running: 2, oldestRunnableAgeSeconds: 600 * 60, stalledSeconds: 3 * 60 });
  // Every page of the 7 RUNNABLE children was read (2 per page: 4 calls with the tokens handed back).
  expect(calls.filter((c) => 'arrayJobId' in c && c.jobStatus === 'RUNNABLE').map((c) => c.nextToken)).toEqual([undefined, '2', '4', '6']);
  // The parent is listed by queue, its children by array id; the parent itself is not a job that waits or runs.
  expect(calls.filter((c) => 'jobQueue' in c).map((c) => c.jobStatus).sort()).toEqual(['PENDING', 'RUNNABLE', 'RUNNING', 'STARTING']);
});

it('nothing running: the stall is the oldest RUNNABLE age; a retried attempt waits from the end of its last attempt', async () => {
  const { listJobs } = fakeListJobs({
    'queue:gpu:PENDING': [parent('w1', 'PENDING')],
    'array:w1:RUNNABLE': [child('w1', 0, { createdAt: minutesAgo(300), stoppedAt: minutesAgo(90) }), child('w1', 1, { createdAt: minutesAgo(120) })],
    'queue:gpu:RUNNABLE': [{ jobId: 'index-job', createdAt: minutesAgo(45) }],
  });
  const wait = await measureQueueWait(listJobs, 'gpu', NOW);
  expect(wait).toMatchObject({ runnable: 3, running: 0, oldestRunnableAgeSeconds: 120 * 60, stalledSeconds: 120 * 60 });
});

it('a STARTING job counts as a start now; a job listed twice counts once', async () => {
  const dup = { jobId: 'j1', createdAt: minutesAgo(50) };
  const { listJobs } = fakeListJobs({
    'queue:gpu:RUNNABLE': [dup, dup],
    'queue:gpu:STARTING': [{ jobId: 'j2', createdAt: minutesAgo(60) }],
  });
  await expect(measureQueueWait(listJobs, 'gpu', NOW)).resolves.toMatchObject({ runnable: 1, running: 1, oldestRunnableAgeSeconds: 3000, stalledSeconds: 0 });
});

it('emits one EMF record per queue, dimension JobQueue', async () => {
  const { listJobs } = fakeListJobs({ 'queue:index:RUNNABLE': [{ jobId: 'x', createdAt: minutesAgo(10) }] });
  const lines: string[] = [];
  const waits = await watchQueues(listJobs, ['gpu', 'index'], NOW, makeEmfEmitter<QueueMetric>((l) => lines.push(l)));
  expect(waits.map((w) => w.stalledSeconds)).toEqual([0, 600]);
  const records = lines.map((l) => JSON.parse(l));
  expect(records).toHaveLength(2);
  expect(records[1]).toMatchObject({ [JOB_QUEUE_DIMENSION]: 'index', [QueueMetric.StalledSeconds]: 600, [QueueMetric.OldestRunnableAge]: 600, [QueueMetric.RunnableJobs]: 1 });
  expect(records[1]._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: METRICS_NAMESPACE, Dimensions: [[JOB_QUEUE_DIMENSION]] });
  expect(records[1]._aws.CloudWatchMetrics[0].Metrics).toContainEqual({ Name: QueueMetric.StalledSeconds, Unit: 'Seconds' });
});

it('the Lambda reads its queues from the environment and refuses none', async () => {
  const { listJobs } = fakeListJobs({ 'queue:b:RUNNABLE': [{ jobId: 'x', createdAt: minutesAgo(1) }] });
  const lines: string[] = [];
  const quiet = makeLogger({ json: true, write: () => undefined });
  const handler = makeQueueWatchHandler(listJobs, () => ({ VISTA_WATCHED_JOB_QUEUES: 'a, b' }), makeEmfEmitter<QueueMetric>((l) => lines.push(l)), quiet, () => NOW);
  await expect(handler()).resolves.toMatchObject([{ jobQueue: 'a', runnable: 0 }, { jobQueue: 'b', runnable: 1, stalledSeconds: 60 }]);
  expect(lines).toHaveLength(2);
  expect(() => readWatchedQueues({})).toThrow(/VISTA_WATCHED_JOB_QUEUES/);
  expect(() => readWatchedQueues({ VISTA_WATCHED_JOB_QUEUES: ' , ' })).toThrow(/names no job queue/);
});
