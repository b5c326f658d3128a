/**
 * The base of every Vista Lambda: a handler from lambdas/ bundled by esbuild on this machine
 * (never in Docker), Node 22 on x86_64 (LanceDB's linux-x64-gnu binary is the one that loads on
 * Lambda), X-Ray tracing, its own log group with a retention, and a role that starts with only
 * the right to write that log group. Everything else comes from `bind…()` helpers, each of which
 * sets the environment the handler reads AND grants exactly the access that goes with it.
 */
import * as path from 'node:path';
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { QUERY_API_ENV } from '../core/api/query-api-env';
import { BACKFILL_ENV } from '../core/backfill/config';
import { REALTIME_LAMBDA_ENV } from '../core/serving/serving-env';
import { LANCEDB_EXTERNAL_MODULES, type LanceDbLayer } from './lancedb-layer';
import { allowWildcards, suppress } from './nag';
import { REPO_ROOT } from './paths';
import { grantObjects, type ObjectAccess } from './s3-access';
import { STORAGE_LAYOUT, type VistaStorage } from './storage';

/** Source images a function may pre-sign thumbnail URLs for. */
export interface ThumbnailSource {
  readonly bucket: s3.IBucket;
  /** Key prefix ending in "/", or "" for the whole bucket. */
  readonly prefix: string;
  /** Key of an SSE-KMS bucket (the signer must be able to decrypt). @default - the bucket's own, if any */
  readonly key?: kms.IKey;
}

/** Deployed defaults the bind helpers set (an execution's input takes precedence). */
export const FUNCTION_ENV = {
  workUri: 'VISTA_WORK_URI',
  dbUri: 'VISTA_DB_URI',
} as const;

export interface VistaFunctionProps {
  /** Handler module relative to the repository root, exporting `handler` (e.g. `lambdas/load.ts`). */
  readonly entry: string;
  readonly description: string;
  /** @default 1024 */
  readonly memorySize?: number;
  /** @default Duration.minutes(15) */
  readonly timeout?: Duration;
  readonly logRetention: logs.RetentionDays;
  readonly environment?: Record<string, string>;
  /** Load @lancedb/lancedb and apache-arrow from this layer instead of bundling them. */
  readonly lanceDb?: LanceDbLayer;
  /** Concurrent executions reserved (and allowed at most). @default - none: the account's pool */
  readonly reservedConcurrentExecutions?: number;
  /** Size of /tmp, MiB (512 to 10240). @default 512 */
  readonly ephemeralStorageMiB?: number;
}

export class VistaFunction extends NodejsFunction {
  private readonly lanceDb?: LanceDbLayer;

  constructor(scope: Construct, id: string, props: VistaFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    // Not AWSLambdaBasicExecutionRole: that managed policy may write every log group of the account.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Vista ${id} function: ${props.description}`,
    });
    logGroup.grantWrite(role);

    super(scope, id, {
      entry: path.join(REPO_ROOT, props.entry),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.X86_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.minutes(15),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      role,
      layers: props.lanceDb ? [props.lanceDb.layer] : [],
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      ...(props.ephemeralStorageMiB ? { ephemeralStorageSize: Size.mebibytes(props.ephemeralStorageMiB) } : {}),
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.CJS,
        target: 'node22',
        sourceMap: true,
        sourcesContent: false,
        logLevel: LogLevel.WARNING,
        // The AWS SDK is bundled (the versions the tests ran with), LanceDB comes from the layer.
        externalModules: props.lanceDb ? LANCEDB_EXTERNAL_MODULES : [],
      },
    });
    this.lanceDb = props.lanceDb;

    allowWildcards(role, [
      { match: { finding: /^Resource::\*$/ }, reason: 'X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permissions (active tracing).' },
    ]);
    suppress(this, 'AwsSolutions-L1', 'Pinned to Node.js 22, the runtime the handlers and the LanceDB native module are built and tested for.');
  }

  /** Work-bucket prefixes of this step; sets VISTA_WORK_URI. `why` explains the grant to reviewers. */
  bindWorkBucket(storage: VistaStorage, access: ObjectAccess, why: string): this {
    this.addEnvironment(FUNCTION_ENV.workUri, storage.workUri);
    grantObjects(this, storage.workBucket, access, { why });
    return this;
  }

  /** Read/write on the LanceDB database prefix; sets VISTA_DB_URI. Needs the LanceDB layer. */
  bindVectorStore(storage: VistaStorage): this {
    if (!this.lanceDb) throw new Error(`${this.node.path}: bindVectorStore() needs the LanceDB layer (props.lanceDb)`);
    const db = `${STORAGE_LAYOUT.db}/*`;
    this.addEnvironment(FUNCTION_ENV.dbUri, storage.dbUri);
    grantObjects(this, storage.vectorBucket, { read: [db], write: [db], delete: [db] }, {
      why: 'LanceDB reads its tables, commits new versions (conditional PUT), and compacts/cleans up old files',
    });
    return this;
  }

  /**
   * Read only on the LanceDB database prefix (GetObject, ListBucket under db/); sets VISTA_DB_URI.
   * For readers (the query API): they never commit, compact or clean up. Needs the LanceDB layer.
   */
  bindVectorStoreReadOnly(storage: VistaStorage): this {
    if (!this.lanceDb) throw new Error(`${this.node.path}: bindVectorStoreReadOnly() needs the LanceDB layer (props.lanceDb)`);
    this.addEnvironment(FUNCTION_ENV.dbUri, storage.dbUri);
    grantObjects(this, storage.vectorBucket, { read: [`${STORAGE_LAYOUT.db}/*`] }, {
      why: 'The query API reads LanceDB\'s tables, indexes and versions (never writes)',
    });
    return this;
  }

  /**
   * Where thumbnails may come from: sets VISTA_THUMBNAIL_PREFIXES (s3://bucket/prefix, …) and
   * allows s3:GetObject under each prefix only, so a pre-signed URL works there and nowhere else
   * (the handler also refuses to sign outside them, lib/core/api/thumbnails.ts).
   */
  bindThumbnailSources(sources: readonly ThumbnailSource[]): this {
    if (sources.length === 0) throw new Error(`${this.node.path}: bindThumbnailSources() needs at least one source`);
    for (const { prefix } of sources) {
      if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`${this.node.path}: thumbnail source prefix "${prefix}" must end with "/" (or be "" for a whole bucket)`);
    }
    this.addEnvironment(QUERY_API_ENV.thumbnailPrefixes, sources.map((s) => `s3://${s.bucket.bucketName}/${s.prefix}`).join(','));
    for (const source of sources) {
      grantObjects(this, source.bucket, { read: [`${source.prefix}*`] }, {
        key: source.key,
        why: 'Thumbnails are pre-signed GET URLs of source images, signed with this role',
      });
    }
    return this;
  }

  /** A taxonomy file of the artifacts bucket (read only); sets VISTA_TAXONOMY_URI. */
  bindTaxonomy(storage: VistaStorage, taxonomyPath: string): this {
    this.addEnvironment(QUERY_API_ENV.taxonomyUri, `${storage.artifactsUri}/${taxonomyPath}`);
    grantObjects(this, storage.artifactsBucket, { read: [taxonomyPath] }, { why: 'Reads the taxonomy file' });
    return this;
  }

  /**
   * The SageMaker endpoint the real-time handlers call: sets VISTA_INFERENCE_ENDPOINT_NAME and
   * allows sagemaker:InvokeEndpoint on that endpoint's ARN only.
   */
  bindInferenceEndpoint(endpoint: { readonly endpointName: string; readonly endpointArn: string }): this {
    this.addEnvironment(REALTIME_LAMBDA_ENV.endpointName, endpoint.endpointName);
    this.addToRolePolicy(new iam.PolicyStatement({ actions: ['sagemaker:InvokeEndpoint'], resources: [endpoint.endpointArn] }));
    return this;
  }

  /**
   * The asynchronous upload endpoint (`uploadInference: async`): sets
   * VISTA_ASYNC_INFERENCE_ENDPOINT_NAME and allows sagemaker:InvokeEndpointAsync on that endpoint's
   * ARN only. SageMaker reads the input object with the endpoint's role, not this function's.
   */
  bindAsyncInferenceEndpoint(endpoint: { readonly endpointName: string; readonly endpointArn: string }): this {
    this.addEnvironment(REALTIME_LAMBDA_ENV.asyncEndpointName, endpoint.endpointName);
    this.addToRolePolicy(new iam.PolicyStatement({ actions: ['sagemaker:InvokeEndpointAsync'], resources: [endpoint.endpointArn] }));
    return this;
  }

  /**
   * Where the upload trigger records each image's outcome: sets VISTA_REALTIME_RESULTS_URI and
   * allows writing (and replacing) `realtime/results/*` of the work bucket, nothing else there.
   */
  bindRealtimeResults(storage: VistaStorage): this {
    this.addEnvironment(REALTIME_LAMBDA_ENV.resultsUri, storage.realtimeResultsUri);
    const results = `${STORAGE_LAYOUT.realtimeResults}/*`;
    grantObjects(this, storage.workBucket, { write: [results], delete: [results] }, {
      why: 'The upload trigger writes the result (or error record) of each uploaded image, and deletes the other one when a re-upload changes the outcome',
    });
    return this;
  }

  /**
   * Outcomes headed for the catalog store: sets VISTA_REALTIME_INBOX_URI and allows writing
   * `realtime/inbox/*` of the work bucket (new records only: no read, no delete).
   */
  bindRealtimeInbox(storage: VistaStorage): this {
    this.addEnvironment(REALTIME_LAMBDA_ENV.inboxUri, storage.realtimeInboxUri);
    grantObjects(this, storage.workBucket, { write: [`${STORAGE_LAYOUT.realtimeInbox}/*`] }, {
      why: 'Drops each outcome to be stored in the real-time inbox, for the ingest into LanceDB',
    });
    return this;
  }

  /**
   * The real-time ingest's inputs and bookkeeping: sets VISTA_REALTIME_INBOX_URI and
   * VISTA_REALTIME_BATCHES_URI; reads and deletes `realtime/inbox/*`, reads, writes and deletes
   * `realtime/batches/*`. Pair with bindVectorStore().
   */
  bindRealtimeIngest(storage: VistaStorage): this {
    this.addEnvironment(REALTIME_LAMBDA_ENV.inboxUri, storage.realtimeInboxUri);
    this.addEnvironment(REALTIME_LAMBDA_ENV.batchesUri, storage.realtimeBatchesUri);
    const inbox = `${STORAGE_LAYOUT.realtimeInbox}/*`;
    const batches = `${STORAGE_LAYOUT.realtimeBatches}/*`;
    grantObjects(this, storage.workBucket, { read: [inbox, batches], write: [batches], delete: [inbox, batches] }, {
      why: 'The real-time ingest lists and reads inbox records, writes its batches, and deletes the records it has loaded',
    });
    return this;
  }

  /** Defaults of the shard and report steps (lib/core/backfill/config.ts). */
  bindBackfillDefaults(defaults: { shardSize?: number; modelUri?: string; reportConcurrency?: number }): this {
    if (defaults.shardSize !== undefined) this.addEnvironment(BACKFILL_ENV.defaultShardSize, String(defaults.shardSize));
    if (defaults.modelUri !== undefined) this.addEnvironment(BACKFILL_ENV.defaultModelUri, defaults.modelUri);
    if (defaults.reportConcurrency !== undefined) this.addEnvironment(BACKFILL_ENV.reportConcurrency, String(defaults.reportConcurrency));
    return this;
  }
}
