/**
 * The upload path on SageMaker asynchronous inference (config `uploadInference: 'async'`), which
 * can scale its instances to zero:
 *
 *   submit    S3 "object created" notifications → InvokeEndpointAsync per image, with the uploaded
 *             object itself as InputLocation: SageMaker queues the request, reads the object and
 *             POSTs its bytes to the container's /invocations (`application/octet-stream`, the
 *             image id in CustomAttributes), then writes the answer to S3 and notifies SNS.
 *   complete  SageMaker's success/error notifications (SNS → SQS) → the same `<image_id>.json` /
 *             `<image_id>.error.json` and inbox record the synchronous step writes
 *             (writeUploadOutcome in upload-step.ts).
 *
 * A refusal of the image (4xx: corrupt, not an image) becomes an error record, as in the
 * synchronous path. A server failure (5xx, timeout) throws: the notification is redelivered and,
 * in the end, parked in the completions' dead-letter queue (re-upload, or redrive the upload
 * notification, to enrich again).
 */
import { InvokeEndpointAsyncCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { z } from 'zod';
import { imageIdFromUri } from '../image-id';
import { mapWithConcurrency } from '../io/concurrency';
import { exists, readText } from '../io/location';
import type { Logger } from '../log';
import { type OutcomeTarget, type QueueMessage, uploadedUris, writeUploadOutcome } from './upload-step';

/** What the container is sent: the object's bytes, whatever the image format (http-request.ts accepts it). */
export const ASYNC_INPUT_CONTENT_TYPE = 'application/octet-stream';

/** Queues one asynchronous inference of an uploaded image. */
export interface AsyncInferenceSubmitter {
  submit(image: { uri: string; imageId: string }): Promise<void>;
}

export function sagemakerAsyncSubmitter(endpointName: string, client: Pick<SageMakerRuntimeClient, 'send'> = new SageMakerRuntimeClient({})): AsyncInferenceSubmitter {
  return {
    async submit({ uri, imageId }) {
      await client.send(
        new InvokeEndpointAsyncCommand({
          EndpointName: endpointName,
          InputLocation: uri,
          ContentType: ASYNC_INPUT_CONTENT_TYPE,
          Accept: 'application/json',
          // The server takes the image id from here for a raw body (http-request.ts).
          CustomAttributes: `image_id=${encodeURIComponent(imageId)}`,
        }),
      );
    },
  };
}

export interface SubmitResult {
  batchItemFailures: { itemIdentifier: string }[];
  submitted: number;
}

/** Upload notifications → one asynchronous inference per created object; failed messages are handed back for redelivery. */
export async function submitUploads(messages: QueueMessage[], options: { submitter: AsyncInferenceSubmitter; concurrency?: number; logger?: Logger }): Promise<SubmitResult> {
  const failures: { itemIdentifier: string }[] = [];
  let submitted = 0;
  await mapWithConcurrency(messages, options.concurrency ?? 4, async (message) => {
    try {
      for (const uri of uploadedUris(message.body)) {
        await options.submitter.submit({ uri, imageId: imageIdFromUri(uri) });
        submitted++;
      }
    } catch (err) {
      options.logger?.warn('upload not submitted: will be retried', { message_id: message.messageId, error: err instanceof Error ? err.message : String(err) });
      failures.push({ itemIdentifier: message.messageId });
    }
  });
  return { batchItemFailures: failures, submitted };
}

/** SageMaker's asynchronous inference notification (the SNS message, delivered raw to SQS). */
const notificationSchema = z.object({
  invocationStatus: z.enum(['Completed', 'Failed']),
  inferenceId: z.string().optional(),
  failureReason: z.string().optional(),
  requestParameters: z.object({ inputLocation: z.string().startsWith('s3://') }),
  responseParameters: z.object({ outputLocation: z.string().optional(), failureLocation: z.string().optional() }).partial().optional(),
});
export type AsyncNotification = z.output<typeof notificationSchema>;

/** The container's HTTP status in a failure reason ("ClientError: Received client error (400) from model …"). */
export function statusOfFailure(reason: string | undefined): number | undefined {
  const match = /\((\d{3})\)/.exec(reason ?? '');
  return match ? Number(match[1]) : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { error: { message: text.slice(0, 300) } };
  }
}

/** One notification → the upload's records; throws when it must be retried. */
export async function completeAsyncInference(notification: AsyncNotification, target: OutcomeTarget): Promise<'results' | 'errors'> {
  const uri = notification.requestParameters.inputLocation;
  const image = { imageId: imageIdFromUri(uri), uri };
  if (notification.invocationStatus === 'Completed') {
    const output = notification.responseParameters?.outputLocation;
    if (!output) throw new Error('completed inference without an output location');
    const body = JSON.parse(await readText(output)) as Record<string, unknown>;
    // The container saw bytes, not the object's URI: it named the source inline:sha256:…. The
    // record names the upload, as the synchronous path's does.
    return writeUploadOutcome(target, image, 200, { ...body, image_id: image.imageId, source_uri: uri });
  }
  const status = statusOfFailure(notification.failureReason);
  // A timeout or an instance failure has no status: retried like a server error.
  if (status === undefined || status >= 500) throw new Error(`asynchronous inference failed: ${notification.failureReason ?? 'no reason given'}`);
  const failureLocation = notification.responseParameters?.failureLocation;
  const body = failureLocation && (await exists(failureLocation)) ? parseJson(await readText(failureLocation)) : { error: { message: notification.failureReason ?? '' } };
  return writeUploadOutcome(target, image, status, body);
}

export interface CompletionResult {
  batchItemFailures: { itemIdentifier: string }[];
  written: { results: number; errors: number };
}

/** A batch of notifications (SQS) → records; malformed or failed ones are handed back for redelivery. */
export async function completeAsyncInferences(messages: QueueMessage[], options: OutcomeTarget & { concurrency?: number; logger?: Logger }): Promise<CompletionResult> {
  const failures: { itemIdentifier: string }[] = [];
  const written = { results: 0, errors: 0 };
  await mapWithConcurrency(messages, options.concurrency ?? 4, async (message) => {
    try {
      const notification = notificationSchema.parse(JSON.parse(message.body));
      written[await completeAsyncInference(notification, options)]++;
    } catch (err) {
      options.logger?.warn('asynchronous inference not recorded: will be retried', { message_id: message.messageId, error: err instanceof Error ? err.message : String(err) });
      failures.push({ itemIdentifier: message.messageId });
    }
  });
  return { batchItemFailures: failures, written };
}
