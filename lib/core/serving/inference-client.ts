/**
 * How the real-time Lambdas reach the inference endpoint: a SageMaker endpoint in production, a
 * plain HTTP `vista serve` locally. Either way the answer is the server's own status and body, so
 * a 422 for a corrupt image stays a 422 for the API's caller; an endpoint that cannot be reached
 * throws MODEL_UNAVAILABLE (retryable).
 */
import { InvokeEndpointCommand, ModelError, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { SystemErrorCode, VistaError } from '../errors';
import { type EnrichErrorBody, type EnrichRequest, type EnrichResult, type TextEmbedResult, toWireRequest } from './protocol';
import { REALTIME_LAMBDA_ENV } from './serving-env';

export interface InferenceResponse {
  status: number;
  body: EnrichResult | EnrichErrorBody;
}

export interface InferenceCallOptions {
  /** Give up after this long (MODEL_UNAVAILABLE): a Lambda must answer before its own timeout. */
  timeoutMs?: number;
}

export interface InferenceClient {
  enrich(request: EnrichRequest, options?: InferenceCallOptions): Promise<InferenceResponse>;
}

export interface TextInferenceClient {
  /** The server's answer to a text request (`{"text": …}`): `{model_id, embedding}` on 200. */
  embedText(text: string, options?: InferenceCallOptions): Promise<{ status: number; body: TextEmbedResult | EnrichErrorBody }>;
}

/** SageMaker lets a real-time invocation run 60 s. */
const DEFAULT_TIMEOUT_MS = 60_000;

const unavailable = (what: string, err: unknown) =>
  new VistaError(SystemErrorCode.MODEL_UNAVAILABLE, `inference endpoint ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });

function parseBody(text: string, status: number): InferenceResponse['body'] {
  try {
    return JSON.parse(text) as InferenceResponse['body'];
  } catch {
    return { error: { code: status >= 500 ? SystemErrorCode.MODEL_UNAVAILABLE : SystemErrorCode.REQUEST_INVALID, message: text.slice(0, 500) } };
  }
}

type Answer = { status: number; body: never };

/** One JSON invocation; either client answers the server's status and parsed body. */
type Invoke = (json: string, options: InferenceCallOptions) => Promise<{ status: number; body: unknown }>;

function clientOver(invoke: Invoke): InferenceClient & TextInferenceClient {
  return {
    enrich: async (request, options = {}) => (await invoke(JSON.stringify(toWireRequest(request)), options)) as Answer,
    embedText: async (text, options = {}) => (await invoke(JSON.stringify({ text }), options)) as Answer,
  };
}

export function httpInferenceClient(baseUrl: string): InferenceClient & TextInferenceClient {
  const url = new URL('/invocations', baseUrl).toString();
  return clientOver(async (json, options) => {
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: json,
        signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      });
    } catch (err) {
      throw unavailable(`at ${baseUrl} unreachable`, err);
    }
    return { status: res.status, body: parseBody(await res.text(), res.status) };
  });
}

export function sagemakerInferenceClient(endpointName: string, client: Pick<SageMakerRuntimeClient, 'send'> = new SageMakerRuntimeClient({})): InferenceClient & TextInferenceClient {
  return clientOver(async (json, options) => {
    try {
      const out = await client.send(
        new InvokeEndpointCommand({ EndpointName: endpointName, ContentType: 'application/json', Accept: 'application/json', Body: json }),
        { abortSignal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS) },
      );
      return { status: 200, body: parseBody(Buffer.from(out.Body ?? new Uint8Array()).toString('utf8'), 200) };
    } catch (err) {
      // The container answered with an error status: SageMaker passes it on as a ModelError.
      if (err instanceof ModelError && err.OriginalStatusCode) {
        return { status: err.OriginalStatusCode, body: parseBody(err.OriginalMessage ?? '', err.OriginalStatusCode) };
      }
      throw unavailable(endpointName, err);
    }
  });
}

/** The client the Lambdas' environment names (REALTIME_LAMBDA_ENV). */
export function inferenceClientFromEnv(env: NodeJS.ProcessEnv = process.env): InferenceClient & TextInferenceClient {
  const endpoint = env[REALTIME_LAMBDA_ENV.endpointName];
  if (endpoint) return sagemakerInferenceClient(endpoint);
  const url = env[REALTIME_LAMBDA_ENV.inferenceUrl];
  if (url) return httpInferenceClient(url);
  throw new VistaError(SystemErrorCode.CONFIG_INVALID, `set ${REALTIME_LAMBDA_ENV.endpointName} or ${REALTIME_LAMBDA_ENV.inferenceUrl}`);
}
