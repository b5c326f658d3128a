/**
 * An HTTP proxy in front of a local S3-compatible server that lacks conditional writes (s3rver
 * accepts a second `If-None-Match: *` PUT and overwrites): it enforces them the way AWS S3 does,
 * so that code relying on them (LanceDB's manifest commits, the store's writer lease) can be
 * tested for real, across processes too.
 *
 *   PUT / CompleteMultipartUpload with `If-None-Match: *`   412 PreconditionFailed if the key exists
 *   PUT / CompleteMultipartUpload with `If-Match: <etag>`   412 if the ETag differs, 404 NoSuchKey if absent
 *
 * Atomic inside the proxy: every request that writes or deletes a key (conditional or not) runs
 * after the previous one on that key, and after the reads of it in flight, have finished; a
 * condition is checked (a HEAD upstream) and the write forwarded inside that turn. Reads of a key
 * wait for the writes queued before them, and listings for every write in flight, so a reader
 * never sees a write half done (s3rver lists an object it is still writing, with size 0). Multi-object deletes (POST ?delete) are passed through
 * unserialized: nothing conditional races them in practice (LanceDB cleans up old versions).
 * Everything else is forwarded byte for byte, headers (and so signatures) untouched.
 * Tests and local tooling only: one process, in memory, no persistence of its own.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ConditionalS3Proxy {
  /** http://127.0.0.1:<port>: point S3 clients (AWS_ENDPOINT_URL_S3) here. */
  endpoint: string;
  /** Conditional writes refused so far (412 or 404), per condition. */
  readonly refused: { ifNoneMatch: number; ifMatch: number };
  /** Conditional writes let through so far. */
  readonly accepted: number;
  stop(): Promise<void>;
}

export interface ConditionalS3ProxyOptions {
  /** The server to forward to, e.g. s3rver's http://127.0.0.1:<port>. */
  upstream: string;
  /** @default 0 (any free port) */
  port?: number;
}

type Condition = { kind: 'if-none-match' } | { kind: 'if-match'; etag: string };

function conditionOf(req: http.IncomingMessage): Condition | undefined {
  const ifNoneMatch = req.headers['if-none-match'];
  const ifMatch = req.headers['if-match'];
  if (typeof ifNoneMatch === 'string' && ifNoneMatch.trim() === '*') return { kind: 'if-none-match' };
  if (typeof ifMatch === 'string') return { kind: 'if-match', etag: normalizeEtag(ifMatch) };
  return undefined;
}

function normalizeEtag(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** The object a request reads or writes, or undefined for bucket-level requests and part uploads. */
function objectKey(req: http.IncomingMessage): { path: string; writes: boolean } | undefined {
  const url = new URL(req.url ?? '/', 'http://proxy');
  const path = url.pathname;
  if (path.split('/').filter(Boolean).length < 2) return undefined; // bucket-level request
  if (req.method === 'GET' || req.method === 'HEAD') return url.searchParams.has('uploadId') ? undefined : { path, writes: false };
  if (req.method === 'PUT' && !url.searchParams.has('partNumber')) return { path, writes: true };
  if (req.method === 'DELETE' && !url.searchParams.has('uploadId')) return { path, writes: true };
  if (req.method === 'POST' && url.searchParams.has('uploadId')) return { path, writes: true }; // CompleteMultipartUpload
  return undefined;
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function s3Error(res: http.ServerResponse, status: number, code: string, message: string, condition?: string): void {
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
    `${condition ? `<Condition>${condition}</Condition>` : ''}</Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startConditionalS3Proxy(options: ConditionalS3ProxyOptions): Promise<ConditionalS3Proxy> {
  const upstream = new URL(options.upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const refused = { ifNoneMatch: 0, ifMatch: 0 };
  let accepted = 0;

  const forward = (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> =>
    new Promise((resolve) => {
      const out = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', resolve);
          answer.on('error', () => resolve());
        },
      );
      out.on('error', (err) => {
        if (!res.headersSent) s3Error(res, 502, 'BadGateway', err.message);
        else res.destroy();
        resolve();
      });
      req.pipe(out);
    });

  /** The ETag of the key upstream, or undefined if there is none. Signed requests need no signing here: s3rver accepts anonymous HEADs. */
  const headEtag = (req: http.IncomingMessage, key: string): Promise<string | undefined> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers };
      for (const name of ['content-length', 'content-type', 'content-md5', 'if-none-match', 'if-match', 'transfer-encoding', 'expect']) delete headers[name];
      for (const name of Object.keys(headers)) if (name.startsWith('x-amz-') || name === 'authorization') delete headers[name];
      const head = http.request({ host: upstream.hostname, port: upstream.port, method: 'HEAD', path: key, headers, agent }, (answer) => {
        answer.resume();
        if (answer.statusCode === 404) resolve(undefined);
        else if (answer.statusCode === 200) resolve(normalizeEtag(String(answer.headers.etag ?? '')));
        else reject(new Error(`HEAD ${key}: ${answer.statusCode}`));
      });
      head.on('error', reject);
      head.end();
    });

  const handleWrite = async (req: http.IncomingMessage, res: http.ServerResponse, key: string): Promise<void> => {
    const condition = req.method === 'DELETE' ? undefined : conditionOf(req);
    if (condition) {
      let etag: string | undefined;
      try {
        etag = await headEtag(req, key);
      } catch (err) {
        req.resume();
        s3Error(res, 502, 'BadGateway', (err as Error).message);
        return;
      }
      if (condition.kind === 'if-none-match' && etag !== undefined) {
        refused.ifNoneMatch++;
        req.resume();
        s3Error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 'If-None-Match');
        return;
      }
      if (condition.kind === 'if-match' && etag === undefined) {
        refused.ifMatch++;
        req.resume();
        s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
        return;
      }
      if (condition.kind === 'if-match' && etag !== condition.etag) {
        refused.ifMatch++;
        req.resume();
        s3Error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 'If-Match');
        return;
      }
      accepted++;
    }
    await forward(req, res);
  };

  // Per key: the last queued write, and the reads in flight. A write waits for both; a read waits
  // for the writes queued before it. (s3rver serves a GET racing a PUT of its key with the new
  // length and the old bytes, leaving the client waiting for bytes that never come.)
  const keys = new Map<string, { tail: Promise<void>; reads: Set<Promise<void>> }>();
  const stateOf = (key: string) => {
    let state = keys.get(key);
    if (!state) keys.set(key, (state = { tail: Promise.resolve(), reads: new Set() }));
    return state;
  };
  const forgetIfIdle = (key: string) => {
    const state = keys.get(key);
    if (state && state.reads.size === 0) {
      const tail = state.tail;
      void tail.then(() => {
        if (keys.get(key) === state && state.tail === tail && state.reads.size === 0) keys.delete(key);
      });
    }
  };

  // Writes in flight, any key: a listing waits for them, so that it never shows an object s3rver
  // has begun to write but not finished (listed with size 0), which AWS S3 never does.
  const writing = new Set<Promise<void>>();

  const server = http.createServer((req, res) => {
    const target = objectKey(req);
    if (target === undefined) {
      if (req.method === 'GET' && writing.size > 0) void Promise.all([...writing]).then(() => forward(req, res));
      else void forward(req, res);
      return;
    }
    // Keyed by the decoded path: clients differ in how they percent-encode one key.
    const lockKey = safeDecode(target.path);
    const state = stateOf(lockKey);
    if (!target.writes) {
      const read = state.tail.then(() => forward(req, res)).catch(() => undefined);
      state.reads.add(read);
      void read.then(() => {
        state.reads.delete(read);
        forgetIfIdle(lockKey);
      });
      return;
    }
    // One write per key at a time: the condition check and the write it guards are one step.
    const turn = Promise.all([state.tail, ...state.reads])
      .then(() => handleWrite(req, res, target.path))
      .catch(() => undefined);
    state.tail = turn;
    writing.add(turn);
    void turn.then(() => {
      writing.delete(turn);
      forgetIfIdle(lockKey);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    refused,
    get accepted() {
      return accepted;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
