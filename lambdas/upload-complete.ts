/**
 * Lambda on the asynchronous inference completions queue (`uploadInference: 'async'`): SageMaker's
 * success and error notifications (SNS → SQS) → the upload's result or error record and inbox
 * record, exactly as the synchronous upload function writes them (lib/core/serving/async-upload).
 * Returns SQS's partial-batch response. Environment: REALTIME_LAMBDA_ENV (results and inbox URIs).
 */
import { SystemErrorCode, VistaError } from '../lib/core/errors';
import { makeLogger } from '../lib/core/log';
import { completeAsyncInferences } from '../lib/core/serving/async-upload';
import { REALTIME_LAMBDA_ENV } from '../lib/core/serving/serving-env';
import type { SqsEvent } from './upload-enrich';

export function makeCompletionHandler(
  deps: { resultsUri: () => string | undefined; inboxUri?: () => string | undefined },
  logger = makeLogger({ json: true }),
): (event: SqsEvent) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  return async (event) => {
    const resultsUri = deps.resultsUri();
    if (!resultsUri) throw new VistaError(SystemErrorCode.CONFIG_INVALID, `${REALTIME_LAMBDA_ENV.resultsUri} is not set`);
    const { batchItemFailures, written } = await completeAsyncInferences(event.Records, { resultsUri, inboxUri: deps.inboxUri?.(), logger });
    logger.info('asynchronous inferences recorded', { messages: event.Records.length, ...written, retried: batchItemFailures.length });
    return { batchItemFailures };
  };
}

export const handler = makeCompletionHandler({
  resultsUri: () => process.env[REALTIME_LAMBDA_ENV.resultsUri],
  inboxUri: () => process.env[REALTIME_LAMBDA_ENV.inboxUri],
});
