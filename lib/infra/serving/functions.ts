/**
 * The real-time path's Lambdas (handlers in lambdas/), each bound to exactly what it does:
 *
 *   api     POST /v1/enrich (API Gateway HTTP API, payload 2.0) → InvokeEndpoint; with
 *           `store: true`, the outcome also goes to realtime/inbox/
 *   upload  SQS batches of S3 ObjectCreated notifications → InvokeEndpoint per image → writes
 *           `<image_id>.json` / `<image_id>.error.json` under realtime/results/ of the work bucket
 *           and one inbox record per outcome under realtime/inbox/; returns { batchItemFailures }
 *           so that only the failed messages are redelivered
 *   ingest  every few minutes, one run at a time: inbox records → LanceDB rows (the backfill's
 *           store), so that uploaded images are searchable
 *
 * Neither reads images itself: a `{ "uri": … }` request is fetched by the inference server, which
 * may read only the uploads prefix. Both may invoke the one endpoint and nothing else.
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config';
import { LanceDbLayer } from '../lancedb-layer';
import type { VistaStorage } from '../storage';
import { REALTIME_LAMBDA_ENV } from '../../core/serving/serving-env';
import { VistaFunction } from '../vista-function';
import { STORAGE_LAYOUT } from '../storage';
import { grantObjects } from '../s3-access';
import { type AsyncInferenceEndpoint, COMPLETION_TIMEOUT } from './async-endpoint';
import type { InferenceEndpoint } from './inference-endpoint';
import type { UploadsIntake } from './uploads';

export type RealtimeFunctionsConfig = Pick<
  InfraConfig,
  | 'apiMemoryMiB'
  | 'apiTimeoutSeconds'
  | 'uploadMemoryMiB'
  | 'uploadTimeoutSeconds'
  | 'uploadBatchSize'
  | 'uploadBatchingWindowSeconds'
  | 'uploadMaxConcurrency'
  | 'realtimeIngestIntervalMinutes'
  | 'realtimeIngestMemoryMiB'
  | 'logRetentionDays'
>;

export interface RealtimeFunctionsProps {
  readonly config: RealtimeFunctionsConfig;
  readonly storage: VistaStorage;
  readonly endpoint: InferenceEndpoint;
  readonly uploads: UploadsIntake;
  /**
   * The asynchronous upload endpoint: the upload function then queues InvokeEndpointAsync
   * requests, and a completion function records their outcomes.
   * @default - uploads call `endpoint` synchronously
   */
  readonly asyncEndpoint?: AsyncInferenceEndpoint;
}

/** Handler modules, relative to the repository root. */
export const REALTIME_HANDLERS = {
  api: 'lambdas/api-enrich.ts',
  upload: 'lambdas/upload-enrich.ts',
  ingest: 'lambdas/realtime-ingest.ts',
  complete: 'lambdas/upload-complete.ts',
} as const;

export class RealtimeFunctions extends Construct {
  /** Behind POST /v1/enrich. */
  readonly api: VistaFunction;
  /** Drains the uploads queue. */
  readonly upload: VistaFunction;
  readonly uploadEventSource: SqsEventSource;
  /** With an asynchronous upload endpoint: its notifications → result and inbox records. */
  readonly complete?: VistaFunction;
  /** Inbox records into LanceDB, on a schedule, one run at a time. */
  readonly ingest: VistaFunction;
  readonly ingestSchedule: events.Rule;
  /** LanceDB's native module for the ingest (a layer of this stack). */
  readonly lanceDb: LanceDbLayer;

  constructor(scope: Construct, id: string, props: RealtimeFunctionsProps) {
    super(scope, id);
    const { config, storage, endpoint, uploads } = props;
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    this.api = new VistaFunction(this, 'Api', {
      entry: REALTIME_HANDLERS.api,
      description: 'Vista real time: POST /v1/enrich, one image through the inference endpoint',
      logRetention,
      memorySize: config.apiMemoryMiB,
      // Shorter than the integration timeout (29 s, api.ts): a slow call ends as this function's error.
      timeout: Duration.seconds(config.apiTimeoutSeconds),
    })
      .bindInferenceEndpoint(endpoint)
      .bindRealtimeInbox(storage);

    this.upload = new VistaFunction(this, 'Upload', {
      entry: REALTIME_HANDLERS.upload,
      description: props.asyncEndpoint
        ? 'Vista real time: queues an asynchronous inference of each uploaded image'
        : 'Vista real time: enriches uploaded images and writes their results',
      logRetention,
      memorySize: config.uploadMemoryMiB,
      timeout: Duration.seconds(config.uploadTimeoutSeconds),
    });
    if (props.asyncEndpoint) {
      this.upload.bindAsyncInferenceEndpoint(props.asyncEndpoint);
      this.complete = this.makeCompletion(props.asyncEndpoint, storage, logRetention);
    } else {
      this.upload.bindInferenceEndpoint(endpoint).bindRealtimeResults(storage).bindRealtimeInbox(storage);
    }

    this.uploadEventSource = new SqsEventSource(uploads.queue, {
      batchSize: config.uploadBatchSize,
      maxBatchingWindow: config.uploadBatchingWindowSeconds > 0 ? Duration.seconds(config.uploadBatchingWindowSeconds) : undefined,
      // The handler returns { batchItemFailures }: only the failed images are redelivered.
      reportBatchItemFailures: true,
      // Bounds the endpoint's load from uploads, without reserving account concurrency.
      maxConcurrency: config.uploadMaxConcurrency,
    });
    this.upload.addEventSource(this.uploadEventSource);

    this.lanceDb = new LanceDbLayer(this, 'LanceDb');
    this.ingest = new VistaFunction(this, 'Ingest', {
      entry: REALTIME_HANDLERS.ingest,
      description: 'Vista real time: loads the outcomes of uploaded images into LanceDB',
      logRetention,
      memorySize: config.realtimeIngestMemoryMiB,
      timeout: Duration.minutes(15),
      lanceDb: this.lanceDb,
      // One run at a time: overlapping runs would batch the same inbox records twice (realtime-ingest.ts).
      reservedConcurrentExecutions: 1,
      environment: {
        // An inbox record lands at the latest when the upload invocation that writes it ends.
        [REALTIME_LAMBDA_ENV.settleSeconds]: String(config.uploadTimeoutSeconds + 60),
      },
    })
      .bindRealtimeIngest(storage)
      .bindVectorStore(storage);
    // A run that fails is not retried, neither by EventBridge nor by Lambda's asynchronous
    // retries: the next scheduled run finishes what it left.
    const interval = Duration.minutes(config.realtimeIngestIntervalMinutes);
    // Lambda keeps an event 60 s to 6 h.
    this.ingest.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(Math.min(21_600, Math.max(60, interval.toSeconds()))) });
    this.ingestSchedule = new events.Rule(this, 'IngestSchedule', {
      description: 'Vista real time: ingest uploaded images into LanceDB',
      schedule: events.Schedule.rate(interval),
      targets: [new targets.LambdaFunction(this.ingest, { retryAttempts: 0, maxEventAge: interval })],
    });
  }

  /** By display name, for the dashboard. */
  get all(): Record<string, VistaFunction> {
    return { api: this.api, upload: this.upload, ingest: this.ingest, ...(this.complete ? { complete: this.complete } : {}) };
  }

  private makeCompletion(asyncEndpoint: AsyncInferenceEndpoint, storage: VistaStorage, logRetention: logs.RetentionDays): VistaFunction {
    const fn = new VistaFunction(this, 'Completion', {
      entry: REALTIME_HANDLERS.complete,
      description: 'Vista real time: records the outcomes of asynchronous inferences of uploaded images',
      logRetention,
      timeout: COMPLETION_TIMEOUT,
    })
      .bindRealtimeResults(storage)
      .bindRealtimeInbox(storage);
    const answers = `${STORAGE_LAYOUT.realtimeAsync}/*`;
    grantObjects(fn, storage.workBucket, { read: [answers] }, { why: 'The completion function reads the answers and failures SageMaker wrote for asynchronous inferences' });
    fn.addEventSource(new SqsEventSource(asyncEndpoint.completions, { batchSize: 10, reportBatchItemFailures: true }));
    return fn;
  }
}
