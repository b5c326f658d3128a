/**
 * The GPU inference endpoint: an HTTP server speaking SageMaker's container contract
 * (`GET /ping`, `POST /invocations` on port 8080), so the same image runs as a SageMaker
 * real-time endpoint, behind any load balancer, or on a laptop (`vista serve`).
 *
 * POST /invocations accepts
 *   - application/json: the EnrichRequest (image_base64 or uri, plus optional metadata);
 *   - image/* or application/octet-stream: the image bytes, metadata in the query string or in
 *     SageMaker's `X-Amzn-SageMaker-Custom-Attributes` header (`image_id=…;hotel_name=…`);
 *   - application/json `{"text": "…"}`: a text for the text tower (the query API's text search),
 *     answered `{model_id, embedding}`.
 * and answers 200 with an EnrichResult, or a status and {error: {code, message}} from errorAnswer.
 *
 * Hostile clients: headers must arrive within `headersTimeoutMs`, a body within `bodyTimeoutMs`
 * with no pause over `bodyIdleTimeoutMs` (else 408 BODY_TIMEOUT and the connection is cut). A
 * request counts as in flight only once its body has arrived, so slow senders hold no slot; the
 * bytes of bodies being read or worked on are charged to a byte budget as they arrive
 * (`maxBufferedBytes`: 503 BUSY past it, 413 past `maxBodyBytes`), so a crowd of large bodies
 * cannot grow memory beyond it. In-flight requests are bounded (503 BUSY past it), and a request
 * not answered within its deadline gets 503 DEADLINE_EXCEEDED.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SystemErrorCode, VistaError } from '../errors';
import type { Logger } from '../log';
import { type ByteBudget, makeByteBudget } from './byte-budget';
import type { EnrichService } from './enrich-service';
import { invocationFromHttp } from './http-request';
import { type EnrichErrorBody, errorAnswer } from './protocol';

export interface InferenceServerOptions {
  /** @default 8080 (SageMaker's port); 0 picks a free one. */
  port?: number;
  /** @default '0.0.0.0' */
  host?: string;
  /** Largest request body: a 50 MB image is ~67 MB as base64. @default 70 MiB */
  maxBodyBytes?: number;
  /**
   * Bytes of request bodies held at once, being read or worked on, charged as they arrive: a
   * body that would pass it gets 503 BUSY and its bytes are let go. JSON bodies cost about 2.5 ×
   * their size while parsed (text, string, decoded bytes): size the host for that. @default 4 × maxBodyBytes
   */
  maxBufferedBytes?: number;
  /** Requests worked on at once (from their body's arrival until their work ends); more get 503 BUSY at once. @default 64 */
  maxInFlight?: number;
  /**
   * A request not answered within this (from its first byte) gets 503 DEADLINE_EXCEEDED (its
   * work still counts as in flight until it ends): an answer the caller can retry, before
   * SageMaker's 60-second invocation limit turns it into an opaque timeout. 0: no deadline. @default 55_000
   */
  requestTimeoutMs?: number;
  /** The whole request head must arrive within this (Node's headersTimeout). @default 10_000 */
  headersTimeoutMs?: number;
  /** The whole body must arrive within this from the request's head, else 408 BODY_TIMEOUT. @default 30_000 */
  bodyTimeoutMs?: number;
  /** No pause longer than this while a body arrives, else 408 BODY_TIMEOUT. @default 10_000 */
  bodyIdleTimeoutMs?: number;
  /** An idle kept-alive connection is closed after this; SageMaker keeps them for 60 s. @default 65_000 */
  keepAliveTimeoutMs?: number;
  logger?: Logger;
}

export interface InferenceServerStats {
  /** Requests worked on now (bodies arrived). */
  readonly inFlight: number;
  /** Body bytes held now, and the most held at once since start (never above maxBufferedBytes). */
  readonly bufferedBytes: number;
  readonly peakBufferedBytes: number;
  readonly maxBufferedBytes: number;
}

export interface InferenceServer {
  readonly url: string;
  readonly stats: InferenceServerStats;
  close(graceMs?: number): Promise<void>;
}

/** A request refused before its work starts; `cut`: the client is not sending, drop the connection after the answer. */
class Refusal {
  constructor(
    readonly status: number,
    readonly code: EnrichErrorBody['error']['code'],
    readonly message: string,
    readonly cut = false,
  ) {}
}

export async function startInferenceServer(service: EnrichService, options: InferenceServerOptions = {}): Promise<InferenceServer> {
  const maxBodyBytes = options.maxBodyBytes ?? 70 * 1024 * 1024;
  const maxInFlight = options.maxInFlight ?? 64;
  const requestTimeoutMs = options.requestTimeoutMs ?? 55_000;
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  const limits: BodyLimits = {
    maxBytes: maxBodyBytes,
    budget: makeByteBudget(options.maxBufferedBytes ?? 4 * maxBodyBytes),
    timeoutMs: options.bodyTimeoutMs ?? 30_000,
    idleTimeoutMs: options.bodyIdleTimeoutMs ?? 10_000,
  };
  if (limits.budget.limit < maxBodyBytes) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `maxBufferedBytes (${limits.budget.limit}) must hold at least one body of maxBodyBytes (${maxBodyBytes})`);
  }
  let inFlight = 0;
  let idle: (() => void) | undefined;

  const server = http.createServer(
    {
      headersTimeout: headersTimeoutMs,
      // Node's own cut-off for a request that never completes; ours (bodyTimeoutMs) answers first.
      requestTimeout: headersTimeoutMs + limits.timeoutMs + 5_000,
      connectionsCheckingInterval: Math.min(1_000, headersTimeoutMs),
    },
    (req, res) => {
      const started = performance.now();
      const reply = (status: number, body: unknown, cut = false) => {
        const text = JSON.stringify(body);
        // A body not read to its end: don't keep the connection for another request.
        const close = cut || !req.complete;
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(close ? { connection: 'close' } : {}) });
        res.end(text);
        if (cut) res.once('finish', () => req.socket.destroy());
        options.logger?.info('request', { method: req.method, path: req.url?.split('?')[0], status, ms: Math.round(performance.now() - started), ...(status >= 400 ? { code: (body as EnrichErrorBody).error?.code } : {}) });
      };
      const refuse = (refusal: Refusal) => reply(refusal.status, { error: { code: refusal.code, message: refusal.message } }, refusal.cut);
      const fail = (err: unknown) => {
        if (err instanceof Refusal) return refuse(err);
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
      if (url.pathname !== '/invocations') {
        req.resume();
        return reply(404, { error: { code: 'NOT_FOUND_ROUTE', message: `no route ${req.method} ${url.pathname}` } });
      }
      if (req.method !== 'POST') {
        req.resume();
        return reply(405, { error: { code: SystemErrorCode.REQUEST_INVALID, message: 'use POST /invocations' } });
      }
      readBody(req, limits).then(
        (body) => work(req, res, url, body, started, reply, fail),
        (err: unknown) => fail(err),
      );
    },
  );

  const work = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    body: Buffer,
    started: number,
    reply: (status: number, body: unknown) => void,
    fail: (err: unknown) => void,
  ) => {
    if (inFlight >= maxInFlight) {
      limits.budget.give(body.length);
      return reply(503, { error: { code: 'BUSY', message: `over ${maxInFlight} requests in flight; retry with backoff` } });
    }
    // Counted until the work is done, not until the client leaves: a client that times out does
    // not stop its fetch, decode and model call.
    inFlight++;
    let answered = false;
    const answerOnce = (answer: () => void) => {
      if (answered || res.headersSent) return;
      answered = true;
      answer();
    };
    const left = requestTimeoutMs - (performance.now() - started);
    const deadline =
      requestTimeoutMs > 0
        ? setTimeout(() => answerOnce(() => reply(503, { error: { code: 'DEADLINE_EXCEEDED', message: `not answered within ${requestTimeoutMs} ms; retry with backoff` } })), Math.max(0, left))
        : undefined;
    const late = (outcome: string, err?: unknown) => {
      if (answered) options.logger?.warn('work ended after its deadline answer', { outcome, ms: Math.round(performance.now() - started), ...(err ? { error: String(err) } : {}) });
    };
    (async () => {
      const invocation = invocationFromHttp({
        contentType: req.headers['content-type'],
        body,
        query: Object.fromEntries(url.searchParams),
        customAttributes: req.headers['x-amzn-sagemaker-custom-attributes'],
      });
      return invocation.kind === 'text' ? service.embedText(invocation.request) : service.enrich(invocation.request);
    })()
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
        limits.budget.give(body.length);
        inFlight--;
        if (inFlight === 0) idle?.();
      });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '0.0.0.0', () => resolve());
  });
  // SageMaker keeps connections alive between invocations; don't let Node's default cut them first.
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 65_000;
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats: {
      get inFlight() {
        return inFlight;
      },
      get bufferedBytes() {
        return limits.budget.used;
      },
      get peakBufferedBytes() {
        return limits.budget.peak;
      },
      maxBufferedBytes: limits.budget.limit,
    },
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

interface BodyLimits {
  maxBytes: number;
  budget: ByteBudget;
  timeoutMs: number;
  idleTimeoutMs: number;
}

/**
 * The body, its bytes charged to the budget (the caller gives them back when its work ends), or a
 * Refusal: 413 past the cap, 503 BUSY past the budget, 408 past the deadline or a pause. After a
 * 413 or BUSY the rest is read and discarded, not kept (the connection must stay up for the
 * answer to reach the client), still under the deadline: a client that keeps sending past it is cut off.
 */
function readBody(req: http.IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const { budget, maxBytes } = limits;
    const chunks: Buffer[] = [];
    let charged = 0;
    let settled = false;
    const refuse = (refusal: Refusal) => {
      if (settled) return;
      settled = true;
      budget.give(charged);
      charged = 0;
      chunks.length = 0;
      reject(refusal);
    };
    const stopWatching = () => {
      clearTimeout(deadline);
      clearTimeout(idle);
    };
    const timedOut = (why: string) => () => {
      stopWatching();
      if (settled) req.socket.destroy();
      else refuse(new Refusal(408, 'BODY_TIMEOUT', why, true));
    };
    const deadline = setTimeout(timedOut(`request body not received within ${limits.timeoutMs} ms`), limits.timeoutMs);
    let idle = setTimeout(timedOut(`no request body bytes for ${limits.idleTimeoutMs} ms`), limits.idleTimeoutMs);
    req.once('close', stopWatching);

    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      req.resume();
      return refuse(new Refusal(413, 'TOO_LARGE', `request body of ${declared} bytes, over the ${maxBytes}-byte limit`));
    }
    if (Number.isFinite(declared) && declared > budget.free) {
      req.resume();
      return refuse(busyBytes(budget));
    }
    req.on('data', (chunk: Buffer) => {
      clearTimeout(idle);
      idle = setTimeout(timedOut(`no request body bytes for ${limits.idleTimeoutMs} ms`), limits.idleTimeoutMs);
      if (settled) return;
      if (charged + chunk.length > maxBytes) return refuse(new Refusal(413, 'TOO_LARGE', `request body over the ${maxBytes}-byte limit`));
      if (!budget.take(chunk.length)) return refuse(busyBytes(budget));
      charged += chunk.length;
      chunks.push(chunk);
    });
    req.on('end', () => {
      stopWatching();
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, charged));
    });
    req.on('error', (err) => {
      stopWatching();
      if (settled) return;
      settled = true;
      budget.give(charged);
      reject(new VistaError(SystemErrorCode.REQUEST_INVALID, `request body: ${err.message}`, { cause: err }));
    });
  });
}

function busyBytes(budget: ByteBudget): Refusal {
  return new Refusal(503, 'BUSY', `over ${budget.limit} bytes of request bodies in flight; retry with backoff`);
}
