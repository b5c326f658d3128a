/**
 * Vista's buckets: source images (created, or an existing one imported read-only), work files of
 * the backfill runs, the LanceDB store, artifacts (models, label banks), and the access-log bucket
 * they all log to. The key layout inside them is fixed here (STORAGE_LAYOUT) because IAM grants
 * are scoped to it: a role can only touch the prefixes its step uses.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { InfraConfig } from './config';
import { suppress } from './nag';

export const STORAGE_LAYOUT = {
  /** Work bucket: manifests the operator uploads (input of a run). */
  manifests: 'manifests',
  /** Work bucket: the `workUri` of executions; runs live in `<work>/runs/<runId>/…`. */
  work: 'work',
  /** Vector-store bucket: the LanceDB database (`dbUri`). */
  db: 'db',
  /** Artifacts bucket: model folders. */
  models: 'models',
  /** Artifacts bucket: taxonomy files. */
  taxonomies: 'taxonomies',
  /** Artifacts bucket: label-bank cache the workers fill (lib/core/tags/label-bank.ts). */
  labelBanks: 'label-banks',
  /** Uploads bucket (real-time path, lib/infra/serving/uploads.ts): files put here are enriched. */
  uploads: 'uploads',
  /** Work bucket: the upload trigger's results (`<image_id>.json`, `<image_id>.error.json`). */
  realtimeResults: 'realtime/results',
  /** Work bucket: every real-time outcome, immutable, until the ingest has put it into LanceDB. */
  realtimeInbox: 'realtime/inbox',
  /** Work bucket: the ingest's batches (worker output format) and their claim and done markers. */
  realtimeBatches: 'realtime/batches',
  /** Work bucket: answers (`output/`) and failures (`failures/`) of the asynchronous upload endpoint. */
  realtimeAsync: 'realtime/async',
} as const;

/**
 * What every Vista bucket has: encryption (the data key when there is one), no public access,
 * ACLs disabled, TLS 1.2+ only. The storage construct and the serving stack's uploads bucket share it.
 */
export function secureBucketProps(dataKey: kms.IKey | undefined): s3.BucketProps {
  return {
    ...(dataKey ? { encryption: s3.BucketEncryption.KMS, encryptionKey: dataKey, bucketKeyEnabled: true } : { encryption: s3.BucketEncryption.S3_MANAGED }),
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
  };
}

export type StorageConfig = Pick<
  InfraConfig,
  | 'sourceBucketName'
  | 'sourceKmsKeyArn'
  | 'inventoryBucketName'
  | 'encryption'
  | 'intermediateRetentionDays'
  | 'noncurrentVersionRetentionDays'
  | 'accessLogRetentionDays'
  | 'modelPath'
>;

export class VistaStorage extends Construct {
  /** Source images: read-only for every Vista role. */
  readonly sourceBucket: s3.IBucket;
  /** Key of an imported SSE-KMS source bucket, when configured. */
  readonly sourceKey?: kms.IKey;
  readonly sourceImported: boolean;
  /** The bucket of the source's S3 Inventory reports, when configured (imported, read-only for the shard function). */
  readonly inventoryBucket?: s3.IBucket;
  readonly workBucket: s3.Bucket;
  readonly vectorBucket: s3.Bucket;
  readonly artifactsBucket: s3.Bucket;
  readonly logsBucket: s3.Bucket;
  /** Customer-managed key of the created buckets when `encryption` is KMS. */
  readonly dataKey?: kms.Key;

  constructor(scope: Construct, id: string, config: StorageConfig) {
    super(scope, id);
    this.logsBucket = this.makeLogsBucket(config);
    if (config.encryption === 'KMS') {
      this.dataKey = new kms.Key(this, 'DataKey', {
        description: 'Vista buckets (source, work, LanceDB store, artifacts)',
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    }

    this.sourceImported = config.sourceBucketName !== undefined;
    if (config.sourceBucketName) {
      this.sourceBucket = s3.Bucket.fromBucketName(this, 'Source', config.sourceBucketName);
      if (config.sourceKmsKeyArn) this.sourceKey = kms.Key.fromKeyArn(this, 'SourceKey', config.sourceKmsKeyArn);
    } else {
      // Originals are irreplaceable: versioned and never deleted with the stack.
      this.sourceBucket = this.makeBucket('Source', config, { versioned: true, removalPolicy: RemovalPolicy.RETAIN });
    }

    if (config.inventoryBucketName) this.inventoryBucket = s3.Bucket.fromBucketName(this, 'Inventory', config.inventoryBucketName);

    const runExpiry: s3.LifecycleRule[] =
      config.intermediateRetentionDays > 0
        ? [{ id: 'expire-run-files', prefix: `${STORAGE_LAYOUT.work}/runs/`, expiration: Duration.days(config.intermediateRetentionDays) }]
        : [];
    // Shards and results are rebuilt from the manifest by re-running: no versioning.
    this.workBucket = this.makeBucket('Work', config, { versioned: false, removalPolicy: RemovalPolicy.RETAIN, lifecycleRules: runExpiry });
    // LanceDB rewrites and deletes files itself (compaction, cleanup); versions make a bad
    // cleanup recoverable for noncurrentVersionRetentionDays.
    this.vectorBucket = this.makeBucket('VectorStore', config, { versioned: true, removalPolicy: RemovalPolicy.RETAIN });
    this.artifactsBucket = this.makeBucket('Artifacts', config, { versioned: true, removalPolicy: RemovalPolicy.RETAIN });
  }

  /** `s3://<work>/work`: the workUri of executions. */
  get workUri(): string {
    return `s3://${this.workBucket.bucketName}/${STORAGE_LAYOUT.work}`;
  }

  /** `s3://<work>/manifests`: where manifests are uploaded. */
  get manifestsUri(): string {
    return `s3://${this.workBucket.bucketName}/${STORAGE_LAYOUT.manifests}`;
  }

  /** `s3://<vectors>/db`: the dbUri of executions. */
  get dbUri(): string {
    return `s3://${this.vectorBucket.bucketName}/${STORAGE_LAYOUT.db}`;
  }

  /** `s3://<artifacts>`: the workers' artifacts root (label-bank cache). */
  get artifactsUri(): string {
    return `s3://${this.artifactsBucket.bucketName}`;
  }

  /** `s3://<work>/realtime/results/`: where the upload trigger writes each image's result. */
  get realtimeResultsUri(): string {
    return `s3://${this.workBucket.bucketName}/${STORAGE_LAYOUT.realtimeResults}/`;
  }

  /** `s3://<work>/realtime/inbox/`: real-time outcomes waiting for the ingest into LanceDB. */
  get realtimeInboxUri(): string {
    return `s3://${this.workBucket.bucketName}/${STORAGE_LAYOUT.realtimeInbox}/`;
  }

  /** `s3://<work>/realtime/batches/`: what the ingest loaded, batch by batch. */
  get realtimeBatchesUri(): string {
    return `s3://${this.workBucket.bucketName}/${STORAGE_LAYOUT.realtimeBatches}/`;
  }

  /**
   * Lets S3 deliver server access logs of a bucket of another stack (the uploads bucket of the
   * serving stack) under `<prefix>` of the logs bucket. CDK's own statement for a cross-stack
   * target has no condition at all; this one admits log delivery for this account's buckets only
   * (naming the source bucket would make the two stacks reference each other).
   */
  allowAccessLogsFromOtherStack(prefix: string): void {
    this.logsBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.logsBucket.arnForObjects(`${prefix}*`)],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
  }

  modelUri(modelPath: string): string {
    return `s3://${this.artifactsBucket.bucketName}/${modelPath.replace(/\/+$/, '')}/`;
  }

  private makeBucket(
    id: string,
    config: StorageConfig,
    props: { versioned: boolean; removalPolicy: RemovalPolicy; lifecycleRules?: s3.LifecycleRule[] },
  ): s3.Bucket {
    const noncurrent: s3.LifecycleRule[] = props.versioned
      ? [{ id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(config.noncurrentVersionRetentionDays) }]
      : [];
    return new s3.Bucket(this, id, {
      ...secureBucketProps(this.dataKey),
      versioned: props.versioned,
      serverAccessLogsBucket: this.logsBucket,
      serverAccessLogsPrefix: `s3/${id.toLowerCase()}/`,
      removalPolicy: props.removalPolicy,
      lifecycleRules: [
        // Killed workers and Lambdas leave multipart uploads behind; their parts are billed.
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...noncurrent,
        ...(props.lifecycleRules ?? []),
      ],
    });
  }

  private makeLogsBucket(config: StorageConfig): s3.Bucket {
    // S3 server access logging only delivers to SSE-S3 buckets.
    const bucket = new s3.Bucket(this, 'Logs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'expire-logs', expiration: Duration.days(config.accessLogRetentionDays) },
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    suppress(bucket, 'AwsSolutions-S1', 'This is the access-log destination of every other bucket; logging it into itself would loop.');
    return bucket;
  }
}
