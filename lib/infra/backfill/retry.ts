/**
 * When AWS Batch retries a shard. Batch evaluates these in order (at most 5) and RETRIES any
 * attempt that matches none of them, so the list ends with an explicit catch-all EXIT: an
 * unmatched failure must not silently burn GPU attempts.
 *
 *  - Spot reclaims and host terminations ("Host EC2 (instance i-…) terminated."): the worker
 *    resumes from its last written part on the next instance.
 *  - The image could not be pulled or the container not started: a scale-out of hundreds of
 *    instances can trip ECR throttling or a GPU host that is not ready yet.
 *  - Exit code 1: the worker's generic failure (an S3 outage past the SDK's retries, a crash).
 *    Per-image problems never fail a shard, so this is rare and usually transient.
 *  - Anything else (exit code 2 = bad arguments, 137 = out of memory, the attempt timeout):
 *    retrying would fail the same way; the run report names the shard.
 */
import * as batch from 'aws-cdk-lib/aws-batch';

export interface WorkerRetryRule {
  readonly action: batch.Action;
  readonly onStatusReason?: string;
  readonly onReason?: string;
  readonly onExitCode?: string;
}

export const WORKER_RETRY_RULES: readonly WorkerRetryRule[] = [
  { action: batch.Action.RETRY, onStatusReason: 'Host EC2*' },
  { action: batch.Action.RETRY, onReason: 'CannotPullContainerError*' },
  { action: batch.Action.RETRY, onReason: 'CannotStartContainerError*' },
  { action: batch.Action.RETRY, onExitCode: '1' },
  { action: batch.Action.EXIT, onReason: '*' },
];

export function workerRetryStrategies(): batch.RetryStrategy[] {
  return WORKER_RETRY_RULES.map(({ action, ...on }) => batch.RetryStrategy.of(action, batch.Reason.custom(on)));
}
