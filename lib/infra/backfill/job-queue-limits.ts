/**
 * What a Batch job queue does with a job left RUNNABLE that no instance will ever take, shared by
 * the GPU workers' queue and the index job's. Not COMPUTE_ENVIRONMENT_MAX_RESOURCE: a job waiting
 * behind others for room (a second run's index job behind the first) is meant to wait.
 */
import { Duration } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';

export function stuckJobActions(capacityWaitMinutes: number): batch.JobStateTimeLimitAction[] {
  return [
    // Asks for more memory or vCPUs than any instance type of the queue has: would wait forever.
    { reason: batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT, maxTime: Duration.minutes(30), action: batch.JobStateTimeLimitActionsAction.CANCEL },
    // No instance to be had (quota, Spot starvation, capacity) for this long: cancelled, so the
    // execution goes on (the wave ends and its completed shards load; the index step's catch goes
    // to the report), and a re-run picks the job up.
    { reason: batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY, maxTime: Duration.minutes(capacityWaitMinutes), action: batch.JobStateTimeLimitActionsAction.CANCEL },
  ];
}
