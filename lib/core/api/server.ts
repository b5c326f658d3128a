/**
 * `vista api`: the query API and the explorer page on one local HTTP server. Requests go to the
 * same handler the Lambda uses; this adds bodies, the page's static files, a bound on requests in
 * flight (429 THROTTLED past it) and security headers.
 */
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type PageConfig, pageAssets, pageConfigScript, pageContentSecurityPolicy } from '../../web/explorer/assets';
import { SystemErrorCode } from '../errors';
import type { Logger } from '../log';
import type { ApiHandler, ApiResponse } from './handler';
import { API_PREFIX } from './schemas';

export interface ApiServerOptions {
  /** @default 8080; 0 picks a free one. */
  port?: number;
  /** @default '127.0.0.1' (a laptop's catalog is not for the network unless asked). */
  host?: string;
  /** Requests handled at once; more are answered 429 THROTTLED. @default 256 */
  maxInFlight?: number;
  /** @default 64 KiB */
  maxBodyBytes?: number;
  page?: PageConfig;
  logger?: Logger;
}

export interface ApiServer {
  readonly url: string;
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Thumbnails may be pre-signed S3 URLs (https:); everything else comes from this origin.
  'content-security-policy': pageContentSecurityPolicy({ imgSources: ['https:'] }),
};

async function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startApiServer(handler: ApiHandler, options: ApiServerOptions = {}): Promise<ApiServer> {
  const maxInFlight = options.maxInFlight ?? 256;
  const maxBody = options.maxBodyBytes ?? 64 * 1024;
  const assets = new Map(pageAssets().map((a) => [`/${a.urlPath}`, a]));
  const files = new Map<string, Promise<Buffer>>();
  const config = pageConfigScript(options.page ?? { apiBase: '' });
  let inFlight = 0;

  const send = (res: http.ServerResponse, answer: ApiResponse) => {
    const body = Buffer.isBuffer(answer.body) ? answer.body : typeof answer.body === 'string' ? Buffer.from(answer.body) : Buffer.from(JSON.stringify(answer.body));
    res.writeHead(answer.status, { ...SECURITY_HEADERS, ...answer.headers, 'content-length': body.length });
    res.end(body);
  };
  const error = (status: number, code: string, message: string): ApiResponse => ({ status, headers: { 'content-type': 'application/json' }, body: { error: { code, message } } });

  async function respond(req: http.IncomingMessage): Promise<ApiResponse> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && !url.pathname.startsWith(`${API_PREFIX}/`)) {
      if (url.pathname === '/config.js') return { status: 200, headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }, body: config };
      const asset = assets.get(url.pathname === '/' ? '/index.html' : url.pathname);
      if (!asset) return error(404, 'NOT_FOUND_ROUTE', `no route GET ${url.pathname}`);
      let bytes = files.get(asset.file);
      if (!bytes) files.set(asset.file, (bytes = fs.readFile(asset.file)));
      return { status: 200, headers: { 'content-type': asset.contentType, 'cache-control': 'no-cache' }, body: await bytes };
    }
    let body: unknown;
    if (req.method === 'POST') {
      const raw = await readBody(req, maxBody);
      if (raw === 'too-large') return error(413, SystemErrorCode.REQUEST_INVALID, `body larger than ${maxBody} bytes`);
      try {
        body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
      } catch {
        return error(400, SystemErrorCode.REQUEST_INVALID, 'body is not JSON');
      }
    }
    return handler({ method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), body });
  }

  const server = http.createServer((req, res) => {
    if (inFlight >= maxInFlight) {
      req.resume();
      return send(res, error(429, 'THROTTLED', `more than ${maxInFlight} requests in flight; retry shortly`));
    }
    inFlight++;
    const started = performance.now();
    respond(req)
      .catch(() => error(500, 'INTERNAL', 'internal error'))
      .then((answer) => {
        send(res, answer);
        options.logger?.log('debug', 'request', { method: req.method, path: req.url?.split('?')[0], status: answer.status, ms: Math.round(performance.now() - started) });
      })
      .finally(() => inFlight--);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
