/**
 * What an operator watches during a backfill: one CloudWatch dashboard (throughput, failures by
 * error code, shards done, Batch job state changes, the Lambdas, the executions) and alarms on
 * the image failure rate, failed Batch jobs, Lambda errors and failed executions, optionally
 * notifying an SNS topic. Worker metrics arrive as embedded-metric-format log lines
 * (lib/core/metrics.ts); Batch job states come from EventBridge through a metric filter.
 */
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { BATCH_JOB_STATE_METRIC, BATCH_JOB_STATUS_DIMENSION, ERROR_CODE_DIMENSION, JOB_QUEUE_DIMENSION, METRICS_NAMESPACE, QueueMetric, WorkerMetric } from '../core/metrics-names';
import type { InfraConfig } from './config';

export type ObservabilityConfig = Pick<
  InfraConfig,
  'alarmFailureRatePercent' | 'alarmFailedJobs' | 'alarmLambdaErrors' | 'alarmQueueStalledMinutes' | 'alarmTopic' | 'alarmEmail' | 'logRetentionDays'
>;

export interface BackfillObservabilityProps {
  readonly config: ObservabilityConfig;
  readonly stateMachine: sfn.IStateMachine;
  /** The backfill's functions by display name. */
  readonly functions: Record<string, lambda.IFunction>;
  readonly jobQueue: batch.IJobQueue;
  /**
   * Job queues the queue-watch Lambda measures (JobQueueWatch), by display name: each gets an
   * alarm on jobs RUNNABLE with none starting for `alarmQueueStalledMinutes`, and a graph.
   * @default - none
   */
  readonly watchedQueues?: Record<string, batch.IJobQueue>;
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * Shards that failed for good: "Job State Change" events to FAILED of array children (their
 * detail carries arrayProperties.index). Batch emits FAILED only once a job is final (a retried
 * attempt goes back to RUNNABLE), and the array job itself also turns FAILED when any child does,
 * which this leaves out. Infra-only metric, so its name lives here.
 */
export const FAILED_SHARDS_METRIC = 'BatchShardsFailed';

function workerMetric(name: string, statistic = 'Sum', period = Duration.minutes(1)): cw.Metric {
  return new cw.Metric({ namespace: METRICS_NAMESPACE, metricName: name, statistic, period });
}

export class BackfillObservability extends Construct {
  readonly dashboard: cw.Dashboard;
  readonly alarms: cw.Alarm[] = [];
  readonly alarmTopic?: sns.Topic;
  /** Batch "Job State Change" events of the queue, one JSON document per event. */
  readonly batchEventsLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: BackfillObservabilityProps) {
    super(scope, id);
    const { config } = props;
    this.batchEventsLogGroup = this.recordBatchJobEvents(props.jobQueue, config);
    if (config.alarmTopic || config.alarmEmail) this.alarmTopic = this.makeTopic(config.alarmEmail);

    const processed = workerMetric(WorkerMetric.ImagesProcessed);
    const failed = workerMetric(WorkerMetric.ImagesFailed);
    const jobStates = (status: string, period = FIVE_MINUTES) =>
      new cw.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: BATCH_JOB_STATE_METRIC,
        dimensionsMap: { [BATCH_JOB_STATUS_DIMENSION]: status },
        statistic: 'Sum',
        period,
        label: status,
      });
    const fns = Object.entries(props.functions);

    this.alarm('ImageFailureRate', {
      metric: new cw.MathExpression({
        expression: 'IF(ok + bad > 0, 100 * bad / (ok + bad), 0)',
        usingMetrics: { ok: processed.with({ period: FIVE_MINUTES }), bad: failed.with({ period: FIVE_MINUTES }) },
        period: FIVE_MINUTES,
        label: 'failed images, % of processed',
      }),
      threshold: config.alarmFailureRatePercent,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      alarmDescription: `More than ${config.alarmFailureRatePercent}% of images fail (see failures by error code on the dashboard, errors.jsonl per shard).`,
    });
    this.alarm('FailedBatchJobs', {
      metric: new cw.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: FAILED_SHARDS_METRIC,
        statistic: 'Sum',
        period: Duration.minutes(15),
      }),
      threshold: config.alarmFailedJobs,
      evaluationPeriods: 1,
      alarmDescription:
        `${config.alarmFailedJobs}+ shards (Batch array children) failed for good within 15 minutes: every attempt used, or an exit ` +
        'the retry strategy does not retry (retried attempts and the array job itself are not counted). Those shards are missing ' +
        'from the run until it is resumed: see report.json and the worker log group.',
    });
    this.alarm('LambdaErrors', {
      metric: new cw.MathExpression({
        expression: fns.map((_, i) => `e${i}`).join(' + '),
        usingMetrics: Object.fromEntries(fns.map(([, fn], i) => [`e${i}`, fn.metricErrors({ period: Duration.minutes(15) })])),
        period: Duration.minutes(15),
        label: 'backfill Lambda errors',
      }),
      threshold: config.alarmLambdaErrors,
      evaluationPeriods: 1,
      alarmDescription: `The backfill Lambdas failed ${config.alarmLambdaErrors}+ times within 15 minutes.`,
    });
    this.alarm('ExecutionsFailed', {
      metric: new cw.MathExpression({
        expression: 'failed + timedOut',
        usingMetrics: {
          failed: props.stateMachine.metricFailed({ period: FIVE_MINUTES }),
          timedOut: props.stateMachine.metricTimedOut({ period: FIVE_MINUTES }),
        },
        period: FIVE_MINUTES,
        label: 'failed or timed-out executions',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      alarmDescription: 'A backfill execution failed or timed out: its output names the failed shards; report.json has the details.',
    });

    const watched = Object.entries(props.watchedQueues ?? {});
    const queueMetric = (name: QueueMetric, queue: batch.IJobQueue, label?: string) =>
      new cw.Metric({ namespace: METRICS_NAMESPACE, metricName: name, dimensionsMap: { [JOB_QUEUE_DIMENSION]: queue.jobQueueName }, statistic: 'Maximum', period: FIVE_MINUTES, ...(label ? { label } : {}) });
    for (const [name, queue] of watched) {
      this.alarm(`QueueStalled${name[0].toUpperCase()}${name.slice(1)}`, {
        // No label: a labelled metric would make the alarm a metric-math one.
        metric: queueMetric(QueueMetric.StalledSeconds, queue),
        threshold: config.alarmQueueStalledMinutes * 60,
        evaluationPeriods: 1,
        alarmDescription:
          `Jobs of the ${name} job queue have waited RUNNABLE ${config.alarmQueueStalledMinutes}+ minutes with no job of the queue starting: ` +
          'no instance can be launched (a G- or R-instance quota of 0, Spot capacity, subnets, the launch template). See the compute ' +
          "environment's status reason and the Auto Scaling group's activity; `vista backfill status` shows the shards left.",
      });
    }

    this.dashboard = new cw.Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-backfill`,
      defaultInterval: Duration.hours(6),
    });
    const graph = (title: string, left: cw.IMetric[], width = 8) => new cw.GraphWidget({ title, left, width, height: 6 });
    this.dashboard.addWidgets(
      graph('Images per second (fleet)', [
        new cw.MathExpression({ expression: 'ok / PERIOD(ok)', usingMetrics: { ok: processed }, label: 'succeeded / s', period: Duration.minutes(1) }),
        new cw.MathExpression({ expression: 'bad / PERIOD(bad)', usingMetrics: { bad: failed }, label: 'failed / s', period: Duration.minutes(1) }),
      ]),
      graph('Images per second per shard (average)', [workerMetric(WorkerMetric.ImagesPerSecond, 'Average', FIVE_MINUTES)]),
      graph('Shards completed / failed for good', [
        workerMetric(WorkerMetric.ShardsCompleted, 'Sum', FIVE_MINUTES),
        new cw.Metric({ namespace: METRICS_NAMESPACE, metricName: FAILED_SHARDS_METRIC, statistic: 'Sum', period: FIVE_MINUTES, label: 'failed for good' }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Failed images by error code', [
        new cw.MathExpression({
          expression: `SEARCH('{${METRICS_NAMESPACE},${ERROR_CODE_DIMENSION}} MetricName="${WorkerMetric.ImagesFailed}"', 'Sum', 300)`,
          usingMetrics: {},
          label: '',
          period: FIVE_MINUTES,
        }),
      ]),
      graph('Batch job state changes', ['SUBMITTED', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED'].map((s) => jobStates(s))),
      graph('Executions', [
        props.stateMachine.metricStarted({ period: FIVE_MINUTES }),
        props.stateMachine.metricSucceeded({ period: FIVE_MINUTES }),
        props.stateMachine.metricFailed({ period: FIVE_MINUTES }),
        props.stateMachine.metricTimedOut({ period: FIVE_MINUTES }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Lambda errors', fns.map(([name, fn]) => fn.metricErrors({ period: FIVE_MINUTES, label: name }))),
      graph('Lambda duration p95', fns.map(([name, fn]) => fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p95', label: name }))),
      graph('Lambda throttles', fns.map(([name, fn]) => fn.metricThrottles({ period: FIVE_MINUTES, label: name }))),
    );
    if (watched.length > 0) {
      this.dashboard.addWidgets(
        graph('Jobs RUNNABLE / running (queue watch)', watched.flatMap(([name, q]) => [queueMetric(QueueMetric.RunnableJobs, q, `${name} runnable`), queueMetric(QueueMetric.RunningJobs, q, `${name} running`)])),
        graph('Oldest RUNNABLE job (s)', watched.map(([name, q]) => queueMetric(QueueMetric.OldestRunnableAge, q, name))),
        graph('Waited with no job starting (s)', watched.map(([name, q]) => queueMetric(QueueMetric.StalledSeconds, q, name))),
      );
    }
    this.dashboard.addWidgets(new cw.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }));
  }

  private alarm(id: string, props: Omit<cw.AlarmProps, 'comparisonOperator' | 'treatMissingData'>): void {
    const alarm = new cw.Alarm(this, id, {
      ...props,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No backfill running means no data, which is not a failure.
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    if (this.alarmTopic) alarm.addAlarmAction(new cwActions.SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
  }

  private recordBatchJobEvents(queue: batch.IJobQueue, config: ObservabilityConfig): logs.LogGroup {
    const stack = Stack.of(this);
    // EventBridge only delivers to log groups named /aws/events/…
    const logGroup = new logs.LogGroup(this, 'BatchJobEvents', {
      logGroupName: `/aws/events/${stack.stackName}-batch-jobs`,
      retention: config.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // A native resource policy (CDK's CloudWatchLogGroup target would deploy a custom-resource Lambda for it).
    new logs.ResourcePolicy(this, 'BatchJobEventsDelivery', {
      policyStatements: [
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
      ],
    });
    const target: events.IRuleTarget = {
      bind: () => ({
        arn: stack.formatArn({ service: 'logs', resource: 'log-group', arnFormat: ArnFormat.COLON_RESOURCE_NAME, resourceName: logGroup.logGroupName }),
      }),
    };
    new events.Rule(this, 'BatchJobStateChanges', {
      description: 'Vista: state changes of the jobs of the backfill queue, for the dashboard and alarms',
      eventPattern: { source: ['aws.batch'], detailType: ['Batch Job State Change'], detail: { jobQueue: [queue.jobQueueArn] } },
      targets: [target],
    });
    new logs.MetricFilter(this, 'BatchJobStatesMetric', {
      logGroup,
      filterPattern: logs.FilterPattern.exists('$.detail.status'),
      metricNamespace: METRICS_NAMESPACE,
      metricName: BATCH_JOB_STATE_METRIC,
      metricValue: '1',
      dimensions: { [BATCH_JOB_STATUS_DIMENSION]: '$.detail.status' },
    });
    new logs.MetricFilter(this, 'FailedShardsMetric', {
      logGroup,
      filterPattern: logs.FilterPattern.all(
        logs.FilterPattern.stringValue('$.detail.status', '=', 'FAILED'),
        logs.FilterPattern.numberValue('$.detail.arrayProperties.index', '>=', 0),
      ),
      metricNamespace: METRICS_NAMESPACE,
      metricName: FAILED_SHARDS_METRIC,
      metricValue: '1',
    });
    return logGroup;
  }

  private makeTopic(email: string | undefined): sns.Topic {
    // CloudWatch alarms can only publish to an encrypted topic whose key lets CloudWatch use it.
    const key = new kms.Key(this, 'AlarmTopicKey', { enableKeyRotation: true, description: 'Vista alarm topic' });
    key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey');
    const topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'Vista backfill alarms', masterKey: key, enforceSSL: true });
    if (email) topic.addSubscription(new subscriptions.EmailSubscription(email));
    return topic;
  }
}
