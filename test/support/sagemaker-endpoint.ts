/**
 * A local stand-in for the SageMaker Runtime service, speaking InvokeEndpoint's wire format
 * (restJson1): `POST /endpoints/{EndpointName}/invocations`, the body passed to the container's
 * `POST /invocations` as is, its answer returned with `X-Amzn-Invoked-Production-Variant`; a
 * container error status becomes SageMaker's 424 `ModelError` (OriginalStatusCode, OriginalMessage,
 * LogStreamArn); an unknown endpoint a 400 `ValidationError`. Lets the real
 * @aws-sdk/client-sagemaker-runtime client (endpoint overridden through
 * AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME) talk to a real `vista serve`.
 *
 * What it does not model: SigV4 verification (it only records the Authorization header), the
 * 60 s invocation limit, and payload limits.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedInvocation {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface FakeSageMakerRuntime {
  url: string;
  readonly invocations: RecordedInvocation[];
  /** Answer every call with this service error instead of invoking the container. */
  failWith(error: { status: number; type: string; message: string } | undefined): void;
  close(): Promise<void>;
}

export const FAKE_VARIANT = 'AllTraffic';

export async function startFakeSageMakerRuntime(endpoints: Record<string, string>): Promise<FakeSageMakerRuntime> {
  const invocations: RecordedInvocation[] = [];
  let serviceError: { status: number; type: string; message: string } | undefined;

  const sendError = (res: http.ServerResponse, status: number, type: string, body: Record<string, unknown>) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.sagemaker.runtime/`, 'x-amzn-requestid': 'req-1' });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    invocations.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });

    if (serviceError) return sendError(res, serviceError.status, serviceError.type, { message: serviceError.message });
    const match = /^\/endpoints\/([^/]+)\/invocations$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) return sendError(res, 404, 'UnknownOperationException', { message: `no operation for ${req.method} ${req.url}` });
    const name = decodeURIComponent(match[1]);
    const container = endpoints[name];
    if (!container) return sendError(res, 400, 'ValidationError', { message: `Endpoint ${name} of account 000000000000 not found.` });

    const answer = await fetch(new URL('/invocations', container), {
      method: 'POST',
      headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream', accept: req.headers.accept ?? '*/*' },
      body,
    });
    const text = await answer.text();
    if (!answer.ok) {
      return sendError(res, 424, 'ModelError', {
        message: `Received client error (${answer.status}) from primary with message "${text}". See https://console.aws.amazon.com/cloudwatch for more information.`,
        OriginalStatusCode: answer.status,
        OriginalMessage: text,
        LogStreamArn: `arn:aws:logs:eu-west-1:000000000000:log-group:/aws/sagemaker/Endpoints/${name}`,
      });
    }
    res.writeHead(200, { 'content-type': answer.headers.get('content-type') ?? 'application/json', 'x-amzn-invoked-production-variant': FAKE_VARIANT });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    invocations,
    failWith: (error) => (serviceError = error),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
