/**
 * Lambda behind API Gateway (HTTP API, payload 2.0): POST /v1/enrich with a JSON EnrichRequest
 * or the image bytes → the inference endpoint → its answer; POST /v1/images does the same and
 * also puts the outcome in the catalog store through the real-time inbox (api-step.ts). The route
 * decides, not the body: IAM grants the two routes separately.
 * Malformed requests are refused here, before they cost a GPU call.
 * Environment: REALTIME_LAMBDA_ENV (lib/core/serving/serving-env.ts).
 */
import { makeLogger } from '../lib/core/log';
import { enrichForApi } from '../lib/core/serving/api-step';
import { enrichRequestFromHttp } from '../lib/core/serving/http-request';
import { type InferenceClient, inferenceClientFromEnv } from '../lib/core/serving/inference-client';
import { SystemErrorCode, VistaError } from '../lib/core/errors';
import { API_PATHS, type EnrichRequest, errorAnswer } from '../lib/core/serving/protocol';
import { REALTIME_LAMBDA_ENV } from '../lib/core/serving/serving-env';

/** The parts of API Gateway's HTTP API event (payload format 2.0) this handler reads. */
export interface HttpApiEvent {
  /** `POST /v1/images` for the store route; absent when called directly (local runs): enrich. */
  routeKey?: string;
  headers?: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
}

export interface HttpApiResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const json = (statusCode: number, body: unknown): HttpApiResult => ({ statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The part of Lambda's context this handler reads. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/** Kept for answering: a call still running at the function's timeout would end in API Gateway's bare 500. */
const ANSWER_MARGIN_MS = 1_500;
/** Kept, too, for writing a `store: true` outcome after the call. */
const STORE_MARGIN_MS = 3_000;

export function makeApiHandler(
  getClient: () => InferenceClient,
  logger = makeLogger({ json: true }),
  /** Where `store: true` outcomes go (the real-time inbox). */
  inboxUri: () => string | undefined = () => process.env[REALTIME_LAMBDA_ENV.inboxUri],
): (event: HttpApiEvent, context?: LambdaContext) => Promise<HttpApiResult> {
  let client: InferenceClient | undefined;
  return async (event, context) => {
    try {
      const body = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
      const request = forRoute(enrichRequestFromHttp({ contentType: event.headers?.['content-type'], body, query: event.queryStringParameters }), event.routeKey);
      client ??= getClient();
      const margin = ANSWER_MARGIN_MS + (request.store ? STORE_MARGIN_MS : 0);
      const timeoutMs = context ? Math.max(1_000, context.getRemainingTimeInMillis() - margin) : undefined;
      const answer = await enrichForApi(request, { client, inboxUri: inboxUri(), timeoutMs, storeTimeoutMs: STORE_MARGIN_MS - 500 });
      return json(answer.status, answer.body);
    } catch (err) {
      const { status, body } = errorAnswer(err);
      if (status === 500) logger.error('enrich request failed', { error: err instanceof Error ? err.message : String(err) });
      return json(status, body);
    }
  };
}

/** The store route stores; a request asking to store anywhere else is refused, not silently not stored. */
function forRoute(request: EnrichRequest, routeKey: string | undefined): EnrichRequest {
  const storeRoute = routeKey === `POST ${API_PATHS.store}`;
  if (!storeRoute && request.store) {
    throw new VistaError(SystemErrorCode.REQUEST_INVALID, `to store the outcome in the catalog, POST ${API_PATHS.store}`);
  }
  if (storeRoute && !request.image_id) {
    throw new VistaError(SystemErrorCode.REQUEST_INVALID, `${API_PATHS.store} needs image_id (the key of the stored row)`);
  }
  return storeRoute ? { ...request, store: true } : request;
}

export const handler = makeApiHandler(() => inferenceClientFromEnv());
