/**
 * What an operator watches on the real-time path: one dashboard (endpoint invocations, latency,
 * errors and instance utilization; the API's requests, errors and latency; the uploads queue's
 * backlog and age and the dead-letter queue; the functions; the ingest into LanceDB) and alarms on
 * dead letters, endpoint 5xx, API 5xx, an ingest that keeps failing and uploads that wait too long
 * to reach search, notifying the backfill's alarm topic when there is one.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { FUNCTION_DIMENSION, IngestMetric, METRICS_NAMESPACE } from '../../core/metrics-names';
import type { InfraConfig } from '../config';
import type { EnrichApi } from './api';
import type { InferenceEndpoint } from './inference-endpoint';
import type { UploadsIntake } from './uploads';

export type ServingObservabilityConfig = Pick<InfraConfig, 'alarmEndpoint5xx' | 'alarmApi5xx' | 'alarmRealtimeLagMinutes' | 'alarmUnindexedRows'>;

export interface ServingObservabilityProps {
  readonly config: ServingObservabilityConfig;
  readonly endpoint: InferenceEndpoint;
  readonly api: EnrichApi;
  readonly uploads: UploadsIntake;
  /** The real-time functions by display name. */
  readonly functions: Record<string, lambda.IFunction>;
  /** The scheduled ingest into LanceDB and its interval: alarmed when three runs in a row fail. */
  readonly ingest: { readonly fn: lambda.IFunction; readonly interval: Duration };
  /**
   * Topic every alarm notifies.
   * @default - alarms only change state (visible on the dashboard)
   */
  readonly alarmTopic?: sns.ITopic;
}

const FIVE_MINUTES = Duration.minutes(5);

export class ServingObservability extends Construct {
  readonly dashboard: cw.Dashboard;
  readonly alarms: cw.Alarm[] = [];
  /** Any message in the dead-letter queue: an upload that failed every attempt. */
  readonly deadLettersAlarm: cw.Alarm;
  readonly endpoint5xxAlarm: cw.Alarm;
  readonly api5xxAlarm: cw.Alarm;
  /** The ingest failed three runs in a row: uploaded images are not reaching search. */
  readonly ingestFailingAlarm: cw.Alarm;
  /** Uploaded images wait longer than `alarmRealtimeLagMinutes` to reach search (the ingest falls behind). */
  readonly ingestLagAlarm: cw.Alarm;
  /** Over `alarmUnindexedRows` rows outside the vector index: an index run is due. */
  readonly unindexedRowsAlarm: cw.Alarm;

  constructor(scope: Construct, id: string, props: ServingObservabilityProps) {
    super(scope, id);
    const { config, endpoint, api, uploads, alarmTopic } = props;
    const http = api.httpApi;

    this.deadLettersAlarm = this.alarm(alarmTopic, 'UploadDeadLetters', {
      metric: uploads.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      alarmDescription:
        'Uploaded images whose enrichment failed every attempt are in the dead-letter queue: see the upload function\'s logs, fix the cause, then redrive the queue (docs/deploy.md, "Real-time path").',
    });
    this.endpoint5xxAlarm = this.alarm(alarmTopic, 'Endpoint5xx', {
      metric: endpoint.metric('Invocation5XXErrors', { period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: config.alarmEndpoint5xx,
      evaluationPeriods: 1,
      alarmDescription: `The inference endpoint answered ${config.alarmEndpoint5xx}+ server errors within 5 minutes (model unavailable, GPU lost, overloaded): see its log group.`,
    });
    this.api5xxAlarm = this.alarm(alarmTopic, 'Api5xx', {
      metric: http.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: config.alarmApi5xx,
      evaluationPeriods: 1,
      alarmDescription: `The enrichment API answered ${config.alarmApi5xx}+ server errors within 5 minutes: see the API function's logs and the access logs.`,
    });

    this.ingestFailingAlarm = this.alarm(alarmTopic, 'IngestFailing', {
      metric: props.ingest.fn.metricErrors({ period: props.ingest.interval, statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      alarmDescription:
        'The real-time ingest failed three runs in a row: uploaded images are enriched but not searchable. See the ingest function\'s logs; the next successful run catches up (docs/deploy.md, "Real-time path").',
    });

    const ingestMetric = (metricName: string, statistic: string, label?: string) =>
      new cw.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { [FUNCTION_DIMENSION]: props.ingest.fn.functionName }, statistic, period: props.ingest.interval, label });
    const oldestPending = ingestMetric(IngestMetric.InboxOldestAge, 'Maximum', 'oldest upload not yet searchable (s)');
    this.ingestLagAlarm = this.alarm(alarmTopic, 'IngestLag', {
      // Without a label: a labelled metric makes the alarm a metric-math one.
      metric: ingestMetric(IngestMetric.InboxOldestAge, 'Maximum'),
      threshold: config.alarmRealtimeLagMinutes * 60,
      evaluationPeriods: 1,
      alarmDescription: `Uploaded images have waited over ${config.alarmRealtimeLagMinutes} minutes to reach search: the ingest falls behind the uploads (or its runs fail: see IngestFailing and the ingest function's logs).`,
    });

    this.unindexedRowsAlarm = this.alarm(alarmTopic, 'UnindexedRows', {
      metric: ingestMetric(IngestMetric.UnindexedRows, 'Maximum'),
      threshold: config.alarmUnindexedRows,
      evaluationPeriods: 1,
      alarmDescription: `Over ${config.alarmUnindexedRows} rows of the image store are outside the vector index and searched exactly (slower as they grow): run the index step when no backfill is loading (\`vista backfill index --db s3://<vectors>/db\`, docs/deploy.md).`,
    });

    this.dashboard = new cw.Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-realtime`,
      defaultInterval: Duration.hours(3),
    });
    const graph = (title: string, left: cw.IMetric[], right: cw.IMetric[] = [], width = 8) => new cw.GraphWidget({ title, left, right, width, height: 6 });
    const fns = Object.entries(props.functions);

    this.dashboard.addWidgets(
      graph('Endpoint invocations', [endpoint.metric('Invocations', { label: 'invocations' }), endpoint.metric('InvocationsPerInstance', { label: 'per instance' })]),
      graph('Endpoint latency (ms)', [
        ...['p50', 'p95', 'p99'].map(
          (p) =>
            new cw.MathExpression({
              // ModelLatency is in microseconds.
              expression: `${p} / 1000`,
              usingMetrics: { [p]: endpoint.metric('ModelLatency', { statistic: p }) },
              label: `model ${p}`,
              period: FIVE_MINUTES,
            }),
        ),
        new cw.MathExpression({
          expression: 'o / 1000',
          usingMetrics: { o: endpoint.metric('OverheadLatency', { statistic: 'p95' }) },
          label: 'SageMaker overhead p95',
          period: FIVE_MINUTES,
        }),
      ]),
      graph('Endpoint errors', [endpoint.metric('Invocation4XXErrors', { label: '4xx' }), endpoint.metric('Invocation5XXErrors', { label: '5xx' })]),
    );
    this.dashboard.addWidgets(
      graph('Endpoint instances: GPU, CPU, memory (%)', [
        endpoint.metricInstance('GPUUtilization', { label: 'GPU' }),
        endpoint.metricInstance('GPUMemoryUtilization', { label: 'GPU memory' }),
        endpoint.metricInstance('CPUUtilization', { label: 'CPU (all cores, up to 100 × vCPUs)' }),
        endpoint.metricInstance('MemoryUtilization', { label: 'memory' }),
      ]),
      graph('API requests and errors', [
        http.metricCount({ period: FIVE_MINUTES, statistic: 'Sum', label: 'requests' }),
        http.metricClientError({ period: FIVE_MINUTES, statistic: 'Sum', label: '4xx' }),
        http.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum', label: '5xx' }),
      ]),
      graph('API latency (ms)', [
        http.metricLatency({ period: FIVE_MINUTES, statistic: 'p50', label: 'p50' }),
        http.metricLatency({ period: FIVE_MINUTES, statistic: 'p95', label: 'p95' }),
        http.metricIntegrationLatency({ period: FIVE_MINUTES, statistic: 'p95', label: 'integration p95' }),
      ]),
    );
    this.dashboard.addWidgets(
      graph(
        'Uploads queue',
        [
          uploads.queue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum', label: 'waiting' }),
          uploads.queue.metricApproximateNumberOfMessagesNotVisible({ period: FIVE_MINUTES, statistic: 'Maximum', label: 'in flight' }),
          uploads.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum', label: 'dead letters' }),
        ],
        [uploads.queue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum', label: 'oldest message age (s)' })],
      ),
      graph('Function errors and throttles', [
        ...fns.map(([name, fn]) => fn.metricErrors({ period: FIVE_MINUTES, label: `${name} errors` })),
        ...fns.map(([name, fn]) => fn.metricThrottles({ period: FIVE_MINUTES, label: `${name} throttles` })),
      ]),
      graph('Function duration p95 (ms)', fns.map(([name, fn]) => fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p95', label: name }))),
    );
    this.dashboard.addWidgets(
      graph('Real-time ingest into LanceDB', [ingestMetric(IngestMetric.RecordsIngested, 'Sum', 'records ingested')], [oldestPending], 12),
      graph('Store rows outside the vector index', [ingestMetric(IngestMetric.UnindexedRows, 'Maximum', 'searched exactly')], [], 12),
    );
    this.dashboard.addWidgets(new cw.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }));
  }

  private alarm(topic: sns.ITopic | undefined, id: string, props: Omit<cw.AlarmProps, 'comparisonOperator' | 'treatMissingData'>): cw.Alarm {
    const alarm = new cw.Alarm(this, id, {
      ...props,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No traffic means no data, which is not a failure.
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    if (topic) alarm.addAlarmAction(new cwActions.SnsAction(topic));
    this.alarms.push(alarm);
    return alarm;
  }
}
