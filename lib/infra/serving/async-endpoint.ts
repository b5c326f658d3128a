/**
 * The upload path's endpoint when `uploadInference` is `async`: a second SageMaker endpoint of the
 * same model (the worker image with `serve`, the same role and environment) with an
 * AsyncInferenceConfig, which SageMaker lets scale to **zero** instances:
 *
 *   upload function ──InvokeEndpointAsync(InputLocation = the uploaded object)──▶ SageMaker queue
 *     ──▶ container POST /invocations ──▶ s3://<work>/realtime/async/output/ (or failures/)
 *     ──▶ success / error SNS topic ──▶ completions queue (+DLQ) ──▶ completion function
 *
 * Scaling (Application Auto Scaling, AWS's pattern for asynchronous endpoints): target tracking
 * on ApproximateBacklogSizePerInstance scales between 0 and `asyncEndpointMaxInstances`; at zero
 * instances that metric has no denominator, so an alarm on HasBacklogWithoutCapacity starts the
 * first instance with a step scaling policy. The first upload after an idle period waits for an
 * instance to launch, pull the image and load the model: minutes (docs/deploy.md).
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config';
import { grantObjects } from '../s3-access';
import { STORAGE_LAYOUT, type VistaStorage } from '../storage';
import { type InferenceEndpoint, VARIANT_NAME, sageMakerScalingRole, sagemakerName } from './inference-endpoint';

export type AsyncInferenceEndpointConfig = Pick<
  InfraConfig,
  | 'endpointInstanceType'
  | 'endpointInferenceAmiVersion'
  | 'endpointStartupTimeoutSeconds'
  | 'asyncEndpointMaxInstances'
  | 'asyncBacklogPerInstance'
  | 'asyncMaxConcurrentInvocationsPerInstance'
  | 'uploadMaxReceiveCount'
  | 'logRetentionDays'
>;

export interface AsyncInferenceEndpointProps {
  readonly config: AsyncInferenceEndpointConfig;
  /** Outputs and failures go to its work bucket (`realtime/async/`). */
  readonly storage: VistaStorage;
  /** The synchronous endpoint: its SageMaker model (image, environment, VPC) and role are reused. */
  readonly synchronous: InferenceEndpoint;
  /**
   * SageMaker endpoint name (lowercase, see InferenceEndpointProps.endpointName).
   * @default - `<stack name>-enrich-async`, lowercased
   */
  readonly endpointName?: string;
  /**
   * Notified when outcomes land in the completions dead-letter queue.
   * @default - the alarm has no action
   */
  readonly alarmTopic?: sns.ITopic;
}

/** Visibility timeout of the completions queue: above the completion function's timeout. */
export const COMPLETION_TIMEOUT = Duration.minutes(1);

export class AsyncInferenceEndpoint extends Construct {
  readonly endpoint: sagemaker.CfnEndpoint;
  readonly endpointConfig: sagemaker.CfnEndpointConfig;
  readonly endpointName: string;
  readonly endpointArn: string;
  /** `/aws/sagemaker/Endpoints/<name>`. */
  readonly logGroup: logs.LogGroup;
  /** SageMaker publishes a notification per completed inference here… */
  readonly successTopic: sns.Topic;
  /** …and per failed one here. */
  readonly errorTopic: sns.Topic;
  /** Both topics' notifications, for the completion function. */
  readonly completions: sqs.Queue;
  readonly completionsDeadLetterQueue: sqs.Queue;
  readonly scalableTarget: appscaling.ScalableTarget;
  /** In alarm while requests wait and no instance runs: starts the first one. */
  readonly backlogWithoutCapacityAlarm: cw.Alarm;
  /** Any outcome that could not be recorded (server failure, timeout) after every attempt. */
  readonly completionDeadLettersAlarm: cw.Alarm;
  readonly outputUri: string;
  readonly failureUri: string;

  constructor(scope: Construct, id: string, props: AsyncInferenceEndpointProps) {
    super(scope, id);
    const { config, storage, synchronous } = props;
    const stack = Stack.of(this);
    this.endpointName = sagemakerName(props.endpointName ?? `${stack.stackName}-enrich-async`);
    const role = synchronous.role;

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/sagemaker/Endpoints/${this.endpointName}`,
      retention: config.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.logGroup.grant(role, 'logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams');

    // SageMaker publishes with the endpoint's role: it must be able to use the topics' key.
    const key = new kms.Key(this, 'TopicKey', { enableKeyRotation: true, description: 'Vista asynchronous inference notifications' });
    key.grant(role, 'kms:Decrypt', 'kms:GenerateDataKey');
    this.successTopic = new sns.Topic(this, 'Succeeded', { displayName: 'Vista asynchronous inference: completed', masterKey: key, enforceSSL: true });
    this.errorTopic = new sns.Topic(this, 'Failed', { displayName: 'Vista asynchronous inference: failed', masterKey: key, enforceSSL: true });
    // Not grantPublish(): with a key it also grants kms:GenerateDataKey*, wider than SNS needs.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.successTopic.topicArn, this.errorTopic.topicArn] }));

    this.completionsDeadLetterQueue = new sqs.Queue(this, 'CompletionDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.completions = new sqs.Queue(this, 'Completions', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(4),
      visibilityTimeout: Duration.seconds(COMPLETION_TIMEOUT.toSeconds() * 6),
      deadLetterQueue: { queue: this.completionsDeadLetterQueue, maxReceiveCount: config.uploadMaxReceiveCount },
    });
    // Raw delivery: the queue's messages are SageMaker's notifications themselves (async-upload.ts).
    for (const topic of [this.successTopic, this.errorTopic]) topic.addSubscription(new subscriptions.SqsSubscription(this.completions, { rawMessageDelivery: true }));

    const output = `${STORAGE_LAYOUT.realtimeAsync}/output`;
    const failures = `${STORAGE_LAYOUT.realtimeAsync}/failures`;
    this.outputUri = `s3://${storage.workBucket.bucketName}/${output}/`;
    this.failureUri = `s3://${storage.workBucket.bucketName}/${failures}/`;
    grantObjects(role, storage.workBucket, { write: [`${output}/*`, `${failures}/*`] }, { why: 'SageMaker writes the asynchronous inferences\' answers with the endpoint\'s role' });

    this.endpointConfig = new sagemaker.CfnEndpointConfig(this, 'Config', {
      productionVariants: [
        {
          variantName: VARIANT_NAME,
          modelName: synchronous.model.attrModelName,
          instanceType: config.endpointInstanceType,
          inferenceAmiVersion: config.endpointInferenceAmiVersion,
          // Created with one; autoscaling takes it to zero when there is no backlog.
          initialInstanceCount: 1,
          initialVariantWeight: 1,
          containerStartupHealthCheckTimeoutInSeconds: config.endpointStartupTimeoutSeconds,
        },
      ],
      asyncInferenceConfig: {
        // Requests sent to one instance at once: the server micro-batches them into one model call.
        clientConfig: { maxConcurrentInvocationsPerInstance: config.asyncMaxConcurrentInvocationsPerInstance },
        outputConfig: {
          s3OutputPath: this.outputUri,
          s3FailurePath: this.failureUri,
          notificationConfig: { successTopic: this.successTopic.topicArn, errorTopic: this.errorTopic.topicArn },
        },
      },
      // No DataCaptureConfig, no KmsKeyId: as the synchronous endpoint (inference-endpoint.ts).
    });
    // SageMaker checks that the role may publish and write when the endpoint is created.
    this.endpointConfig.node.addDependency(role);

    this.endpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', {
      endpointName: this.endpointName,
      endpointConfigName: this.endpointConfig.attrEndpointConfigName,
      retainAllVariantProperties: true,
    });
    this.endpoint.node.addDependency(this.logGroup);
    this.endpointArn = this.endpoint.ref;

    this.scalableTarget = new appscaling.ScalableTarget(this, 'Scaling', {
      serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
      resourceId: `endpoint/${this.endpointName}/variant/${VARIANT_NAME}`,
      scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      minCapacity: 0,
      maxCapacity: config.asyncEndpointMaxInstances,
      role: sageMakerScalingRole(this),
    });
    this.scalableTarget.node.addDependency(this.endpoint);
    this.scalableTarget.scaleToTrackMetric('BacklogPerInstance', {
      customMetric: this.metric('ApproximateBacklogSizePerInstance', { statistic: 'Average', period: Duration.minutes(1) }),
      targetValue: config.asyncBacklogPerInstance,
      scaleOutCooldown: Duration.minutes(2),
      // Long enough not to stop an instance between two bursts of a bulk upload.
      scaleInCooldown: Duration.minutes(10),
    });

    const fromZero = new appscaling.StepScalingAction(this, 'ScaleFromZero', {
      scalingTarget: this.scalableTarget,
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
      // An instance takes minutes to start: one at a time; target tracking adds the rest.
      cooldown: Duration.minutes(5),
    });
    fromZero.addAdjustment({ adjustment: 1, lowerBound: 0 });
    this.backlogWithoutCapacityAlarm = new cw.Alarm(this, 'BacklogWithoutCapacity', {
      alarmDescription: 'Uploads wait for asynchronous inference and the endpoint has no instance: start one',
      metric: this.metric('HasBacklogWithoutCapacity', { statistic: 'Average', period: Duration.minutes(1) }),
      threshold: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    this.backlogWithoutCapacityAlarm.addAlarmAction(new cwActions.ApplicationScalingAction(fromZero));

    this.completionDeadLettersAlarm = new cw.Alarm(this, 'CompletionsParked', {
      alarmDescription:
        'Asynchronous inferences of uploads failed (server error, timeout) and were not recorded: see the endpoint\'s log group, then re-upload the images (docs/deploy.md, "Uploads that scale to zero").',
      metric: this.completionsDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmTopic) this.completionDeadLettersAlarm.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
  }

  /** A metric of the asynchronous endpoint in AWS/SageMaker (ApproximateBacklogSize, HasBacklogWithoutCapacity…: EndpointName only). */
  metric(metricName: string, props: cw.MetricOptions = {}): cw.Metric {
    return new cw.Metric({ namespace: 'AWS/SageMaker', metricName, dimensionsMap: { EndpointName: this.endpointName }, period: Duration.minutes(5), statistic: 'Sum', ...props });
  }
}
