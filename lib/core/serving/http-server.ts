/**
 * The GPU inference endpoint: an HTTP server speaking SageMaker's container contract
 * (`GET /ping`, `POST /invocations` on port 8080), so the same image runs as a SageMaker
 * real-time endpoint, behind any load balancer, or on a laptop (`vista serve`).
 *
 * POST /invocations accepts
 *   - application/json: the EnrichRequest (image_base64 or uri, plus optional metadata);
 *   - image/* or application/octet-stream: the image bytes, metadata in the query string or in
 *     SageMaker's `X-Amzn-SageMaker-Custom-Attributes` header (`image_id=…;hotel_name=…`).
 * and answers 200 with an EnrichResult, or a status and {error: {code, message}} from errorAnswer.
 * Bodies are capped before they are read, in-flight requests are bounded (503 BUSY past it), and
 * a request not answered within its deadline gets 503 DEADLINE_EXCEEDED.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SystemErrorCode, VistaError } from '../errors';
import type { Logger } from '../log';
import type { EnrichService } from './enrich-service';
import { enrichRequestFromHttp } from './http-request';
import { type EnrichErrorBody, errorAnswer } from './protocol';

export interface InferenceServerOptions {
  /** @default 8080 (SageMaker's port); 0 picks a free one. */
  port?: number;
  /** @default '0.0.0.0' */
  host?: string;
  /** Largest request body: a 50 MB image is ~67 MB as base64. @default 70 MiB */
  maxBodyBytes?: number;
  /** Requests handled at once (until their work ends, not their connection); more get 503 BUSY at once. @default 64 */
  maxInFlight?: number;
  /**
   * A request not answered within this gets 503 DEADLINE_EXCEEDED (its work still counts as in
   * flight until it ends): an answer the caller can retry, before SageMaker's 60-second
   * invocation limit turns it into an opaque timeout. 0: no deadline. @default 55_000
   */
  requestTimeoutMs?: number;
  logger?: Logger;
}

export interface InferenceServer {
  readonly url: string;
  close(graceMs?: number): Promise<void>;
}

export async function startInferenceServer(service: EnrichService, options: InferenceServerOptions = {}): Promise<InferenceServer> {
  const maxBodyBytes = options.maxBodyBytes ?? 70 * 1024 * 1024;
  const maxInFlight = options.maxInFlight ?? 64;
  const requestTimeoutMs = options.requestTimeoutMs ?? 55_000;
  let inFlight = 0;
  let idle: (() => void) | undefined;

  const server = http.createServer((req, res) => {
    const started = performance.now();
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      options.logger?.info('request', { method: req.method, path: req.url?.split('?')[0], status, ms: Math.round(performance.now() - started), ...(status >= 400 ? { code: (body as EnrichErrorBody).error?.code } : {}) });
    };
    const fail = (err: unknown) => {
      const { status, body } = errorAnswer(err);
      reply(status, body);
      if (status === 500) options.logger?.error('request failed', { error: String(err) });
    };

    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      req.resume();
      return reply(400, { error: { code: SystemErrorCode.REQUEST_INVALID, message: 'malformed request target' } });
    }
    if (req.method === 'GET' && url.pathname === '/ping') {
      // Unhealthy (the model thread died, the GPU was lost): SageMaker replaces the instance.
      const health = service.health();
      return health.ok ? reply(200, { status: 'ok' }) : reply(503, { error: { code: SystemErrorCode.MODEL_UNAVAILABLE, message: health.reason } });
    }
    if (url.pathname !== '/invocations') return reply(404, { error: { code: 'NOT_FOUND_ROUTE', message: `no route ${req.method} ${url.pathname}` } });
    if (req.method !== 'POST') return reply(405, { error: { code: SystemErrorCode.REQUEST_INVALID, message: 'use POST /invocations' } });
    if (inFlight >= maxInFlight) {
      req.resume();
      return reply(503, { error: { code: 'BUSY', message: `over ${maxInFlight} requests in flight; retry with backoff` } });
    }
    // Counted until the work is done, not until the client leaves: a client that times out does
    // not stop its fetch, decode and model call.
    inFlight++;
    let answered = false;
    const answerOnce = (answer: () => void) => {
      if (answered) return;
      answered = true;
      answer();
    };
    const deadline =
      requestTimeoutMs > 0
        ? setTimeout(() => answerOnce(() => reply(503, { error: { code: 'DEADLINE_EXCEEDED', message: `not answered within ${requestTimeoutMs} ms; retry with backoff` } })), requestTimeoutMs)
        : undefined;
    const late = (outcome: string, err?: unknown) => {
      if (answered) options.logger?.warn('work ended after its deadline answer', { outcome, ms: Math.round(performance.now() - started), ...(err ? { error: String(err) } : {}) });
    };
    handle(req, url)
      .then((result) => {
        late('ok');
        answerOnce(() => reply(200, result));
      })
      .catch((err: unknown) => {
        late('failed', err);
        answerOnce(() => fail(err));
      })
      .finally(() => {
        clearTimeout(deadline);
        inFlight--;
        if (inFlight === 0) idle?.();
      });
  });

  const handle = async (req: http.IncomingMessage, url: URL) => {
    const body = await readBody(req, maxBodyBytes);
    const request = enrichRequestFromHttp({
      contentType: req.headers['content-type'],
      body,
      query: Object.fromEntries(url.searchParams),
      customAttributes: req.headers['x-amzn-sagemaker-custom-attributes'],
    });
    return service.enrich(request);
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '0.0.0.0', () => resolve());
  });
  // SageMaker keeps connections alive between invocations; don't let Node's default cut them first.
  server.keepAliveTimeout = 65_000;
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** Stops accepting, lets requests in flight finish (up to `graceMs`), then drops what is left. */
    close: async (graceMs = 30_000) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          idle = resolve;
          setTimeout(resolve, graceMs).unref();
        });
      }
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * The body, or TOO_LARGE as soon as it passes the cap. The rest is drained, not destroyed: the
 * connection must stay up for the 413 to reach the client.
 */
function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      req.resume();
      return reject(new VistaError('TOO_LARGE', `request body of ${declared} bytes, over the ${maxBytes}-byte limit`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > maxBytes) {
        over = true;
        chunks.length = 0;
        reject(new VistaError('TOO_LARGE', `request body over the ${maxBytes}-byte limit`));
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => reject(new VistaError(SystemErrorCode.REQUEST_INVALID, `request body: ${err.message}`, { cause: err })));
  });
}
