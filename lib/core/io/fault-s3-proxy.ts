/**
 * A fault-injecting HTTP proxy in front of an S3-compatible server (s3rver in tests and in
 * `vista chaos`). Clients point their S3 endpoint at it; it forwards every request unchanged
 * (the Host header too, so SigV4 signatures still match) and, by rule, answers some of them
 * badly: 500 InternalError, 503 SlowDown, a reset connection, a body cut off half way, a stall,
 * or a response lost after the upstream already applied the request (a PUT that did happen).
 *
 * Faults are deterministic for a seed: whether the n-th request for one method and path gets a
 * fault is a hash of (seed, rule, method, path, n), so concurrency and timing do not change
 * which requests fail, and retries of one object draw fresh outcomes.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export const FAULT_KINDS = ['error500', 'slowDown', 'reset', 'cutBody', 'stall', 'lostResponse'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type S3Operation = 'GetObject' | 'HeadObject' | 'PutObject' | 'ListObjects' | 'DeleteObjects' | 'Other';

export interface FaultRule {
  fault: FaultKind;
  /** Share of the matching requests that get this fault, 0..1. */
  rate: number;
  /** Operations the rule applies to. @default every operation */
  operations?: S3Operation[];
  /** Applies only to object keys matching this. @default every key */
  keys?: RegExp;
  /** How long a `stall` holds the request before forwarding it. @default 2000 */
  stallMs?: number;
}

export interface FaultProxyOptions {
  /** The real server, e.g. http://127.0.0.1:4568 */
  upstream: string;
  rules?: FaultRule[];
  /** @default 1 */
  seed?: number;
}

export interface FaultStats {
  requests: number;
  /** Requests per operation. */
  byOperation: Partial<Record<S3Operation, number>>;
  /** Faults injected per kind. */
  injected: Partial<Record<FaultKind, number>>;
}

export interface FaultProxy {
  /** http://127.0.0.1:<port>: use as the S3 endpoint. */
  endpoint: string;
  /** Replaces the rules (and keeps counting occurrences, so outcomes stay fresh). */
  setRules(rules: FaultRule[]): void;
  stats(): FaultStats;
  /** Total faults injected so far. */
  injectedTotal(): number;
  stop(): Promise<void>;
}

/** Which S3 operation a path-style request is. */
export function s3OperationOf(method: string, url: string): { operation: S3Operation; key: string } {
  const [pathname, query = ''] = url.split('?', 2);
  const [, , ...keyParts] = pathname.split('/');
  const key = decodeURIComponent(keyParts.join('/'));
  const params = new URLSearchParams(query);
  const m = method.toUpperCase();
  if (m === 'POST' && params.has('delete')) return { operation: 'DeleteObjects', key };
  if (m === 'DELETE' && key) return { operation: 'DeleteObjects', key };
  if (!key) return { operation: m === 'GET' && !params.has('location') ? 'ListObjects' : 'Other', key };
  if (m === 'GET') return { operation: 'GetObject', key };
  if (m === 'HEAD') return { operation: 'HeadObject', key };
  if (m === 'PUT') return { operation: 'PutObject', key };
  return { operation: 'Other', key };
}

/** A uniform draw in [0, 1) from the hash of the parts: the same parts, the same draw. */
function draw(...parts: (string | number)[]): number {
  return createHash('sha1').update(parts.join('\u0000')).digest().readUInt32BE(0) / 2 ** 32;
}

function s3ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>vista-fault-proxy</RequestId></Error>`;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  const seed = options.seed ?? 1;
  let rules = options.rules ?? [];
  const seen = new Map<string, number>();
  const stats: FaultStats = { requests: 0, byOperation: {}, injected: {} };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const timers = new Set<NodeJS.Timeout>();

  const pick = (method: string, url: string): { operation: S3Operation; rule?: FaultRule } => {
    const { operation, key } = s3OperationOf(method, url);
    const id = `${method} ${url.split('?')[0]}`;
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    const rule = rules.find(
      (r, i) =>
        (!r.operations || r.operations.includes(operation)) && (!r.keys || r.keys.test(key)) && draw(seed, i, r.fault, id, n) < r.rate,
    );
    return { operation, rule };
  };

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, onResponse: (up: http.IncomingMessage) => void): void => {
    const upReq = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      onResponse,
    );
    upReq.on('error', () => res.socket?.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upReq.destroy();
    });
    req.pipe(upReq);
  };

  const passThrough = (req: http.IncomingMessage, res: http.ServerResponse): void =>
    forward(req, res, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });

  const answerError = (req: http.IncomingMessage, res: http.ServerResponse, status: number, code: string, message: string): void => {
    req.resume();
    req.on('end', () => {
      const body = s3ErrorXml(code, message);
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  };

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const { operation, rule } = pick(method, url);
    stats.requests++;
    stats.byOperation[operation] = (stats.byOperation[operation] ?? 0) + 1;
    if (!rule) return passThrough(req, res);
    stats.injected[rule.fault] = (stats.injected[rule.fault] ?? 0) + 1;

    switch (rule.fault) {
      case 'error500':
        return answerError(req, res, 500, 'InternalError', 'We encountered an internal error. Please try again.');
      case 'slowDown':
        return answerError(req, res, 503, 'SlowDown', 'Please reduce your request rate.');
      case 'reset':
        req.socket.destroy();
        return;
      case 'stall': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!req.socket.destroyed) passThrough(req, res);
        }, rule.stallMs ?? 2000);
        timers.add(timer);
        return;
      }
      case 'lostResponse':
        // The upstream applies the request; the client never hears so.
        return forward(req, res, (up) => {
          up.resume();
          up.on('end', () => req.socket.destroy());
        });
      case 'cutBody':
        return forward(req, res, (up) => {
          const length = Number(up.headers['content-length'] ?? 0);
          if (method !== 'GET' || up.statusCode !== 200 || length < 2) {
            up.resume();
            up.on('end', () => req.socket.destroy());
            return;
          }
          res.writeHead(200, up.headers);
          let sent = 0;
          const half = Math.floor(length / 2);
          up.on('data', (chunk: Buffer) => {
            if (sent >= half) return;
            const piece = chunk.subarray(0, half - sent);
            sent += piece.length;
            res.write(piece);
            if (sent >= half) {
              up.destroy();
              // Let the half body reach the client, then drop the connection mid-body.
              setImmediate(() => req.socket.destroy());
            }
          });
        });
    }
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    setRules(next) {
      rules = next;
    },
    stats: () => structuredClone(stats),
    injectedTotal: () => Object.values(stats.injected).reduce((a, b) => a + (b ?? 0), 0),
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
