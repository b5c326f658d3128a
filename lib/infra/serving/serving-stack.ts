/**
 * The real-time path, in a stack of its own next to the backfill stack:
 *
 *   caller ──SigV4──▶ HTTP API POST /v1/enrich ──▶ api function ──InvokeEndpoint──▶ SageMaker endpoint
 *   s3://<uploads>/uploads/… ──ObjectCreated──▶ SQS (+DLQ) ──▶ upload function ──InvokeEndpoint──▶  (same)
 *                                                               ├──▶ s3://<work>/realtime/results/<image_id>.json
 *                                                               └──▶ s3://<work>/realtime/inbox/ ──(ingest function,
 *                                                                     every 5 min)──▶ LanceDB (the backfill's store)
 *
 * With `explorer` (the default), also the query API and the explorer page (lib/infra/explorer/):
 * two HTTP APIs (SigV4, Cognito JWT) over a Lambda reading the same LanceDB store, the page on
 * CloudFront.
 *
 * The endpoint runs the Batch worker's image with `serve`. This stack reads the backfill stack's
 * storage (artifacts: model, taxonomy, label banks; work: real-time results; vectors: the LanceDB
 * store; logs) and its alarm
 * topic, so it deploys after it, and separately: the GPU endpoint is billed by the hour, and its
 * first deploy needs the model already uploaded (docs/deploy.md, "Real-time path").
 */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { InfraConfig } from '../config';
import type { VistaStorage } from '../storage';
import { EnrichApi } from './api';
import { RealtimeFunctions } from './functions';
import { AsyncInferenceEndpoint } from './async-endpoint';
import { InferenceEndpoint } from './inference-endpoint';
import { ServingObservability } from './observability';
import { UploadsIntake } from './uploads';
import type { VistaNetwork } from '../network';
import { Explorer } from '../explorer/explorer';

export interface ServingStackProps extends StackProps {
  readonly config: InfraConfig;
  /** The backfill stack's buckets. */
  readonly storage: VistaStorage;
  /**
   * Topic the real-time alarms notify.
   * @default - none (the backfill stack's topic when `alarmTopic`/`alarmEmail` is set; see bin/app.ts)
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * The backfill stack's network: the endpoint's instances get their network interfaces in its
   * private subnets (no internet route with `egress: endpoints`), with the workers' security group.
   * @default - SageMaker's own network (the endpoint is not attached to a VPC)
   */
  readonly network?: VistaNetwork;
}

export class ServingStack extends Stack {
  readonly uploads: UploadsIntake;
  readonly endpoint: InferenceEndpoint;
  /** With `uploadInference: async`: the uploads' own endpoint, scaled to zero when idle. */
  readonly asyncEndpoint?: AsyncInferenceEndpoint;
  readonly functions: RealtimeFunctions;
  readonly api: EnrichApi;
  readonly observability: ServingObservability;
  /** With `explorer` (the default): the query API, the page and its users (lib/infra/explorer/). */
  readonly explorer?: Explorer;

  constructor(scope: Construct, id: string, props: ServingStackProps) {
    const { config, storage } = props;
    const env = config.account || config.region ? { account: config.account, region: config.region } : undefined;
    super(scope, id, { description: 'Vista real time: API and upload trigger in front of a GPU inference endpoint', ...props, env: props.env ?? env });

    this.uploads = new UploadsIntake(this, 'Uploads', { config, storage });
    this.endpoint = new InferenceEndpoint(this, 'Inference', {
      config,
      storage,
      uploads: { bucket: this.uploads.bucket, prefix: this.uploads.prefix },
      ...(props.network
        ? { vpc: { subnetIds: props.network.vpc.selectSubnets(props.network.workerSubnets).subnetIds, securityGroupIds: [props.network.workerSecurityGroup.securityGroupId] } }
        : {}),
    });
    if (config.uploadInference === 'async') this.asyncEndpoint = new AsyncInferenceEndpoint(this, 'AsyncInference', { config, storage, synchronous: this.endpoint, alarmTopic: props.alarmTopic });
    this.functions = new RealtimeFunctions(this, 'Functions', { config, storage, endpoint: this.endpoint, uploads: this.uploads, asyncEndpoint: this.asyncEndpoint });
    this.api = new EnrichApi(this, 'Api', { config, handler: this.functions.api });
    this.observability = new ServingObservability(this, 'Observability', {
      config,
      endpoint: this.endpoint,
      api: this.api,
      uploads: this.uploads,
      functions: this.functions.all,
      ingest: { fn: this.functions.ingest, interval: Duration.minutes(config.realtimeIngestIntervalMinutes) },
      alarmTopic: props.alarmTopic,
    });

    if (config.explorer) {
      this.explorer = new Explorer(this, 'Explorer', {
        config,
        storage,
        lanceDb: this.functions.lanceDb,
        extraThumbnailSources: [{ bucket: this.uploads.bucket, prefix: this.uploads.prefix, key: storage.dataKey }],
        textEndpoint: this.endpoint,
      });
    }

    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output('ApiUrl', this.api.enrichUrl, 'POST a SigV4-signed JSON request here (service execute-api)');
    output('ApiInvokePolicyArn', this.api.invokePolicy.managedPolicyArn, 'Attach to a caller\'s role: execute-api:Invoke on POST /v1/enrich only');
    output('ApiStoreUrl', this.api.storeUrl, 'POST a SigV4-signed JSON request with an image_id here to enrich and store it in the catalog');
    output('ApiStorePolicyArn', this.api.storePolicy.managedPolicyArn, 'Attach to the role of a service that adds images to the catalog: execute-api:Invoke on POST /v1/images only');
    output('EndpointName', this.endpoint.endpointName, 'SageMaker inference endpoint (the worker image running `vista serve`)');
    output('UploadsBucket', this.uploads.bucket.bucketName, 'Uploads bucket');
    output('UploadsUri', this.uploads.uploadsUri, 'Put images here to have them enriched');
    output('RealtimeResultsUri', storage.realtimeResultsUri, 'Results of uploaded images: <image_id>.json or <image_id>.error.json');
    output('RealtimeInboxUri', storage.realtimeInboxUri, 'Outcomes waiting for the ingest into LanceDB (empties every few minutes)');
    output('IngestFunctionName', this.functions.ingest.functionName, 'The scheduled ingest of uploaded images into LanceDB (invoke it to ingest now)');
    output('UploadDeadLetterQueueUrl', this.uploads.deadLetterQueue.queueUrl, 'Upload notifications that failed every attempt (redrive after fixing the cause)');
    if (this.asyncEndpoint) {
      output('AsyncEndpointName', this.asyncEndpoint.endpointName, 'SageMaker asynchronous endpoint of the upload path (scales to zero when idle)');
      output('AsyncCompletionDeadLetterQueueUrl', this.asyncEndpoint.completionsDeadLetterQueue.queueUrl, 'Asynchronous inference outcomes that could not be recorded (server failures, timeouts)');
    }
    if (this.explorer) {
      const { page, api, users } = this.explorer;
      output('ExplorerUrl', page.url, 'The explorer page (sign in with a user of ExplorerUserPoolId)');
      output('ExplorerUserPoolId', users.userPool.userPoolId, 'Cognito user pool of the page\'s users: create them here (docs/deploy.md, "Explorer")');
      output('ExplorerPageApiUrl', api.pageApiUrl, 'Query API for the page (Cognito ID token in Authorization; CORS: ExplorerUrl only)');
      output('QueryApiUrl', api.serviceUrl, 'Query API for services: SigV4-signed requests (service execute-api) under /v1');
      output('QueryApiInvokePolicyArn', api.invokePolicy.managedPolicyArn, 'Attach to a caller\'s role: execute-api:Invoke on the query API\'s routes');
      output('QueryFunctionName', api.function.functionName, 'The query API\'s Lambda (logs, metrics)');
    }
    output('EndpointLogGroup', this.endpoint.logGroup.logGroupName, 'Inference server logs');
    output('DashboardName', this.observability.dashboard.dashboardName, 'CloudWatch dashboard of the real-time path');
  }
}
