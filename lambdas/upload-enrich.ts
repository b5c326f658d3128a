/**
 * Lambda on the uploads queue (S3 "object created" notifications through SQS): enriches each
 * uploaded image and writes its result or error record (lib/core/serving/upload-step), or, with
 * REALTIME_LAMBDA_ENV.asyncEndpointName set, queues an asynchronous inference of it, whose outcome
 * lambdas/upload-complete.ts records (lib/core/serving/async-upload). Returns
 * SQS's partial-batch response, so only the messages that failed are redelivered.
 * Environment: REALTIME_LAMBDA_ENV (lib/core/serving/serving-env.ts).
 */
import { SystemErrorCode, VistaError } from '../lib/core/errors';
import { makeLogger } from '../lib/core/log';
import { type InferenceClient, inferenceClientFromEnv } from '../lib/core/serving/inference-client';
import { REALTIME_LAMBDA_ENV } from '../lib/core/serving/serving-env';
import { enrichUploads } from '../lib/core/serving/upload-step';
import { type AsyncInferenceSubmitter, sagemakerAsyncSubmitter, submitUploads } from '../lib/core/serving/async-upload';

export interface SqsEvent {
  Records: { messageId: string; body: string }[];
}

export function makeUploadHandler(
  deps: { getClient: () => InferenceClient; resultsUri: () => string | undefined; inboxUri?: () => string | undefined },
  logger = makeLogger({ json: true }),
): (event: SqsEvent, context?: { getRemainingTimeInMillis(): number }) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  let client: InferenceClient | undefined;
  return async (event, context) => {
    const resultsUri = deps.resultsUri();
    if (!resultsUri) throw new VistaError(SystemErrorCode.CONFIG_INVALID, `${REALTIME_LAMBDA_ENV.resultsUri} is not set`);
    client ??= deps.getClient();
    const remainingMs = context ? () => context.getRemainingTimeInMillis() : undefined;
    const inboxUri = deps.inboxUri?.();
    const { batchItemFailures, written } = await enrichUploads(event.Records, { client, resultsUri, inboxUri, logger, remainingMs });
    logger.info('uploads enriched', { messages: event.Records.length, ...written, retried: batchItemFailures.length });
    return { batchItemFailures };
  };
}

/** The asynchronous variant: notifications → InvokeEndpointAsync with the object as input. */
export function makeAsyncSubmitHandler(
  deps: { getSubmitter: () => AsyncInferenceSubmitter },
  logger = makeLogger({ json: true }),
): (event: SqsEvent) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  let submitter: AsyncInferenceSubmitter | undefined;
  return async (event) => {
    submitter ??= deps.getSubmitter();
    const { batchItemFailures, submitted } = await submitUploads(event.Records, { submitter, logger });
    logger.info('uploads submitted for asynchronous inference', { messages: event.Records.length, submitted, retried: batchItemFailures.length });
    return { batchItemFailures };
  };
}

const asyncEndpoint = process.env[REALTIME_LAMBDA_ENV.asyncEndpointName];

export const handler = asyncEndpoint
  ? makeAsyncSubmitHandler({ getSubmitter: () => sagemakerAsyncSubmitter(asyncEndpoint) })
  : makeUploadHandler({
      getClient: () => inferenceClientFromEnv(),
      resultsUri: () => process.env[REALTIME_LAMBDA_ENV.resultsUri],
      inboxUri: () => process.env[REALTIME_LAMBDA_ENV.inboxUri],
    });
