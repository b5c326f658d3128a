/**
 * The job-queue watch: a Lambda (lambdas/queue-watch.ts) on an EventBridge schedule that lists the
 * watched Batch queues' jobs (array children included) and emits, as EMF log lines, how long work
 * has waited RUNNABLE with no job starting. Batch publishes no queue metrics; the alarm on them is
 * BackfillObservability's (`watchedQueues`).
 */
import { Duration } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { QUEUE_WATCH_ENV } from '../../core/backfill/queue-wait';
import { allowWildcards } from '../nag';
import { VistaFunction } from '../vista-function';

export interface JobQueueWatchProps {
  /** The queues to measure (their names are the metrics' JobQueue dimension). */
  readonly queues: batch.IJobQueue[];
  readonly logRetention: logs.RetentionDays;
  /** How often the queues are measured. @default Duration.minutes(5) */
  readonly interval?: Duration;
}

export class JobQueueWatch extends Construct {
  readonly fn: VistaFunction;
  readonly schedule: events.Rule;
  readonly interval: Duration;

  constructor(scope: Construct, id: string, props: JobQueueWatchProps) {
    super(scope, id);
    this.interval = props.interval ?? Duration.minutes(5);
    this.fn = new VistaFunction(this, 'Function', {
      entry: 'lambdas/queue-watch.ts',
      description: 'Vista backfill: measures how long Batch jobs wait RUNNABLE (for the stuck-queue alarm)',
      logRetention: props.logRetention,
      memorySize: 256,
      // A few ListJobs pages per queue; a run that overlaps the next is pointless.
      timeout: Duration.minutes(2),
      reservedConcurrentExecutions: 1,
      environment: { [QUEUE_WATCH_ENV.jobQueues]: props.queues.map((q) => q.jobQueueName).join(',') },
    });
    this.fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['batch:ListJobs'], resources: ['*'] }));
    allowWildcards(this.fn.role!, [{ match: { finding: /^Resource::\*$/ }, reason: 'batch:ListJobs (and X-Ray tracing) have no resource-level permissions.' }]);
    // A missed run is not retried: the next one measures again.
    this.fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(Math.max(60, this.interval.toSeconds())) });
    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'Vista backfill: measure the Batch job queues',
      schedule: events.Schedule.rate(this.interval),
      targets: [new targets.LambdaFunction(this.fn, { retryAttempts: 0, maxEventAge: Duration.seconds(Math.max(60, this.interval.toSeconds())) })],
    });
  }
}
