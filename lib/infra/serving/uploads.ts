/**
 * The upload trigger's intake: a dedicated uploads bucket created by the stack (never
 * notifications on an existing bucket: S3 keeps one notification configuration per bucket, and
 * CDK's notification custom resource would replace whatever a team had configured there), whose
 * ObjectCreated events under `uploads/` go to an SQS queue (encrypted, TLS only, with a
 * dead-letter queue) that the upload function drains.
 *
 * Why a queue between S3 and the function: S3 invokes asynchronously with no back-pressure;
 * a queue with a bounded consumer (the event source's maximum concurrency) turns a bulk upload
 * into a backlog instead of a flood of endpoint calls, retries failed images by redelivery,
 * and parks the ones that keep failing in the dead-letter queue.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config';
import { suppress } from '../nag';
import { STORAGE_LAYOUT, secureBucketProps, type VistaStorage } from '../storage';

export type UploadsConfig = Pick<
  InfraConfig,
  'uploadSuffixes' | 'uploadRetentionDays' | 'uploadMaxReceiveCount' | 'uploadTimeoutSeconds' | 'uploadBatchingWindowSeconds'
>;

export interface UploadsIntakeProps {
  readonly config: UploadsConfig;
  /** Access logs go to its logs bucket; with `encryption: KMS` the bucket uses its data key. */
  readonly storage: VistaStorage;
}

/** Id of CDK's singleton bucket-notifications handler in a stack (aws-s3/lib/notifications-resource). */
const NOTIFICATIONS_HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

/** Where the uploads bucket's server access logs go in the logs bucket. */
const ACCESS_LOGS_PREFIX = 's3/uploads/';

/** Messages of the main queue are kept this long (a stopped consumer has four days to come back). */
const QUEUE_RETENTION = Duration.days(4);
/** Dead letters are kept as long as SQS allows, for inspection and redrive. */
const DLQ_RETENTION = Duration.days(14);

/**
 * Visibility timeout of the queue: AWS's guidance for Lambda consumers is at least six times the
 * function timeout plus the batching window, so that a message is not redelivered while the
 * throttled or retried invocation that holds it may still be working on it.
 */
export function uploadVisibilityTimeout(config: Pick<UploadsConfig, 'uploadTimeoutSeconds' | 'uploadBatchingWindowSeconds'>): Duration {
  return Duration.seconds(6 * config.uploadTimeoutSeconds + config.uploadBatchingWindowSeconds);
}

export class UploadsIntake extends Construct {
  /** Files put under `prefix` are enriched. */
  readonly bucket: s3.Bucket;
  /** `uploads/`: the notification filter's prefix and the inference server's only allowed location. */
  readonly prefix: string;
  /** S3 event notifications (ObjectCreated) of uploaded files. */
  readonly queue: sqs.Queue;
  /** Notifications whose processing failed `uploadMaxReceiveCount` times. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: UploadsIntakeProps) {
    super(scope, id);
    const { config, storage } = props;
    this.prefix = `${STORAGE_LAYOUT.uploads}/`;

    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...secureBucketProps(storage.dataKey),
      versioned: false,
      // Uploaded originals may be the only copy a team has: never deleted with the stack.
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...(config.uploadRetentionDays > 0
          ? [{ id: 'expire-uploads', prefix: this.prefix, expiration: Duration.days(config.uploadRetentionDays) }]
          : []),
      ],
    });

    // Access logs go to the backfill stack's logs bucket. Set on the CloudFormation resource:
    // `serverAccessLogsBucket` would add an unconditioned delivery statement to that bucket's policy.
    const cfnBucket = this.bucket.node.defaultChild as s3.CfnBucket;
    cfnBucket.loggingConfiguration = { destinationBucketName: storage.logsBucket.bucketName, logFilePrefix: ACCESS_LOGS_PREFIX };
    storage.allowAccessLogsFromOtherStack(ACCESS_LOGS_PREFIX);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: DLQ_RETENTION,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: QUEUE_RETENTION,
      visibilityTimeout: uploadVisibilityTimeout(config),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: config.uploadMaxReceiveCount },
    });

    // One notification per suffix (S3 allows one prefix and one suffix per filter); none: every object.
    const destination = new s3n.SqsDestination(this.queue);
    const suffixes: (string | undefined)[] = config.uploadSuffixes.length > 0 ? config.uploadSuffixes : [undefined];
    for (const suffix of suffixes) {
      this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, destination, { prefix: this.prefix, ...(suffix ? { suffix } : {}) });
    }
    this.acknowledgeNotificationsHandler();
  }

  /**
   * CloudFormation cannot attach a notification to a queue whose policy names the bucket without a
   * dependency cycle, so CDK writes the bucket's notification configuration with a small custom
   * resource (one Lambda per stack). Its role is CDK's, not ours to narrow.
   */
  private acknowledgeNotificationsHandler(): void {
    const handler = Stack.of(this).node.tryFindChild(NOTIFICATIONS_HANDLER_ID);
    if (!handler) throw new Error(`CDK's bucket notifications handler (${NOTIFICATIONS_HANDLER_ID}) was not found: update this id`);
    suppress(
      handler,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'CDK\'s bucket-notifications custom resource (deploy time only): AWSLambdaBasicExecutionRole lets it write its own logs.',
    );
  }

  /** `s3://<uploads bucket>/uploads/`. */
  get uploadsUri(): string {
    return `s3://${this.bucket.bucketName}/${this.prefix}`;
  }
}
