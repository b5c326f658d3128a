import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ImageErrorCode, VistaError } from '../../lib/core/errors';
import { getS3Client } from '../../lib/core/io/s3';
import { makeImageSource, type SourceConfigInput } from '../../lib/core/io/source';
import { startS3, type LocalS3 } from '../support/s3';

/** Fast retries so that tests exercising them stay quick. */
const FAST: SourceConfigInput = { retries: 3, throttleRetries: 3, retryBaseDelayMs: 5, throttleBaseDelayMs: 5, retryMaxDelayMs: 20, timeoutMs: 5000 };

async function fetchError(uri: string, config: SourceConfigInput = FAST): Promise<VistaError> {
  const err = await makeImageSource(config).fetch(uri).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(VistaError);
  return err as VistaError;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

/** A local HTTP server whose n-th request (1-based) is answered by a script. */
async function startServer(handler: Handler): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => handler(req, res, ++n));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => n,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const slowDown = (res: http.ServerResponse) => {
  res.writeHead(503, { 'content-type': 'application/xml' });
  res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
};

let dir: string;
const image = Buffer.from('\xff\xd8\xff pretend this is a jpeg', 'latin1');

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-source-'));
  await fs.writeFile(path.join(dir, 'a.jpg'), image);
  await fs.writeFile(path.join(dir, 'empty.jpg'), '');
  await fs.mkdir(path.join(dir, 'folder.jpg'));
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

describe('local files', () => {
  it('reads a path and a file:// URL', async () => {
    const source = makeImageSource(FAST);
    const file = path.join(dir, 'a.jpg');
    expect((await source.fetch(file)).equals(image)).toBe(true);
    expect((await source.fetch(pathToFileURL(file).href)).equals(image)).toBe(true);
  });

  it.each([
    ['a missing file', 'missing.jpg', ImageErrorCode.NOT_FOUND],
    ['a folder', 'folder.jpg', ImageErrorCode.NOT_FOUND],
    ['a path through a file', 'a.jpg/child.jpg', ImageErrorCode.NOT_FOUND],
    ['an empty file', 'empty.jpg', ImageErrorCode.EMPTY],
  ])('reports %s', async (_, name, code) => {
    expect((await fetchError(path.join(dir, name))).code).toBe(code);
  });

  it('refuses a file over the byte cap before reading it', async () => {
    const err = await fetchError(path.join(dir, 'a.jpg'), { ...FAST, maxBytes: image.length - 1 });
    expect(err.code).toBe(ImageErrorCode.TOO_LARGE);
    await expect(makeImageSource({ maxBytes: image.length }).fetch(path.join(dir, 'a.jpg'))).resolves.toHaveLength(image.length);
  });

  it('refuses unknown URI schemes and bad config', async () => {
    expect((await fetchError('ftp://host/a.jpg')).code).toBe(ImageErrorCode.INVALID_ENTRY);
    expect(() => makeImageSource({ retries: -1 })).toThrow(VistaError);
  });
});

describe('http(s)', () => {
  const body = Buffer.alloc(1000, 7);
  let server: Awaited<ReturnType<typeof startServer>>;
  let script: Handler;
  beforeAll(async () => {
    server = await startServer((req, res, n) => script(req, res, n));
  });
  afterAll(() => server.close());

  it('fetches, retries 503 and 429, and maps 404/403', async () => {
    const start = server.requests();
    script = (req, res, n) => {
      if (req.url === '/missing') return void res.writeHead(404).end();
      if (req.url === '/private') return void res.writeHead(403).end();
      if (n - start <= 2) return void res.writeHead(n - start === 1 ? 503 : 429).end();
      res.end(body);
    };
    expect((await makeImageSource(FAST).fetch(`${server.url}/ok`)).equals(body)).toBe(true);
    expect(server.requests() - start).toBe(3);
    expect((await fetchError(`${server.url}/missing`)).code).toBe(ImageErrorCode.NOT_FOUND);
    expect((await fetchError(`${server.url}/private`)).code).toBe(ImageErrorCode.ACCESS_DENIED);
    expect(server.requests() - start).toBe(5); // one request each: never retried
  });

  it('caps the body by Content-Length and, without one, while streaming', async () => {
    script = (req, res) => {
      if (req.url === '/chunked') {
        res.writeHead(200); // no content-length: chunked transfer
        for (let i = 0; i < 10; i++) res.write(body);
        return void res.end();
      }
      res.end(Buffer.alloc(5000));
    };
    expect((await fetchError(`${server.url}/declared`, { ...FAST, maxBytes: 4999 })).code).toBe(ImageErrorCode.TOO_LARGE);
    expect((await fetchError(`${server.url}/chunked`, { ...FAST, maxBytes: 9999 })).code).toBe(ImageErrorCode.TOO_LARGE);
    await expect(makeImageSource({ ...FAST, maxBytes: 10_000 }).fetch(`${server.url}/chunked`)).resolves.toHaveLength(10_000);
  });

  it('times out a stalled response and retries it', async () => {
    const start = server.requests();
    script = (_, res, n) => {
      if (n - start === 1) return; // never answers
      res.end(body);
    };
    await expect(makeImageSource({ ...FAST, timeoutMs: 200 }).fetch(`${server.url}/slow`)).resolves.toHaveLength(body.length);
    expect(server.requests() - start).toBe(2);
    script = () => undefined;
    const err = await fetchError(`${server.url}/slow`, { ...FAST, timeoutMs: 100, retries: 1 });
    expect(err).toMatchObject({ code: ImageErrorCode.FETCH_TIMEOUT, details: { attempts: 2 } });
  });
});

describe('S3 (s3rver)', () => {
  let s3: LocalS3;
  const payload = Buffer.alloc(4096, 42);
  beforeAll(async () => {
    s3 = await startS3();
    await s3.createBucket('images');
    const put = (key: string, body: Buffer) => getS3Client().send(new PutObjectCommand({ Bucket: 'images', Key: key, Body: body }));
    await put('hotels/1/a.jpg', payload);
    await put('hotels/1/empty.jpg', Buffer.alloc(0));
  });
  afterAll(() => s3.stop());

  it('fetches an object', async () => {
    expect((await makeImageSource(FAST).fetch('s3://images/hotels/1/a.jpg')).equals(payload)).toBe(true);
  });

  it.each([
    ['a missing key', 's3://images/hotels/1/missing.jpg', ImageErrorCode.NOT_FOUND],
    ['a missing bucket', 's3://nope/a.jpg', ImageErrorCode.NOT_FOUND],
    ['an empty object', 's3://images/hotels/1/empty.jpg', ImageErrorCode.EMPTY],
    ['a URI without key', 's3://images/', ImageErrorCode.INVALID_ENTRY],
  ])('reports %s', async (_, uri, code) => {
    expect((await fetchError(uri)).code).toBe(code);
  });

  it('refuses an object over the byte cap from its ContentLength', async () => {
    const err = await fetchError('s3://images/hotels/1/a.jpg', { ...FAST, maxBytes: payload.length - 1 });
    expect(err.code).toBe(ImageErrorCode.TOO_LARGE);
    expect(err.message).toContain(String(payload.length));
  });

  describe('behind a flaky proxy', () => {
    let proxy: Awaited<ReturnType<typeof startServer>>;
    let script: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => 'forward' | 'forward-chunked' | void;
    let savedEndpoint: string | undefined;

    // A new proxy (so a new endpoint, so a new cached client) per test: the client's adaptive retry
    // mode rate-limits itself after throttling, which would otherwise slow the following tests.
    beforeEach(async () => {
      const upstream = new URL(s3.endpoint);
      proxy = await startServer((req, res, n) => {
        const action = script(req, res, n);
        if (!action) return;
        const forward = http.request(
          { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            const headers = { ...answer.headers };
            if (action === 'forward-chunked') delete headers['content-length'];
            res.writeHead(answer.statusCode ?? 502, headers);
            answer.pipe(res);
          },
        );
        req.pipe(forward);
      });
      savedEndpoint = process.env.AWS_ENDPOINT_URL_S3;
      process.env.AWS_ENDPOINT_URL_S3 = proxy.url; // clients are cached per endpoint
    });
    afterEach(async () => {
      process.env.AWS_ENDPOINT_URL_S3 = savedEndpoint;
      await proxy.close();
    });

    it('retries SlowDown, 500 and dropped connections, then succeeds', async () => {
      const start = proxy.requests();
      script = (req, res, n) => {
        const k = n - start;
        if (k === 1) return slowDown(res);
        if (k === 2) return void res.writeHead(500).end();
        if (k === 3) return void req.socket.destroy();
        return 'forward';
      };
      expect((await makeImageSource(FAST).fetch('s3://images/hotels/1/a.jpg')).equals(payload)).toBe(true);
      expect(proxy.requests() - start).toBe(4);
    });

    it('gives up with FETCH_FAILED when throttling outlasts the throttle retries (marked transient and throttled)', async () => {
      const start = proxy.requests();
      script = (_, res) => slowDown(res);
      const err = await fetchError('s3://images/hotels/1/a.jpg', { ...FAST, retries: 0, throttleRetries: 2 });
      expect(err).toMatchObject({ code: ImageErrorCode.FETCH_FAILED, details: { attempts: 3, transient: true, throttled: true } });
      expect(proxy.requests() - start).toBe(3);
    });

    it('does not retry NOT_FOUND', async () => {
      const start = proxy.requests();
      script = () => 'forward';
      expect((await fetchError('s3://images/hotels/1/missing.jpg')).code).toBe(ImageErrorCode.NOT_FOUND);
      expect(proxy.requests() - start).toBe(1);
    });

    it('times out a stalled GET and retries it', async () => {
      const start = proxy.requests();
      script = (_, __, n) => (n - start === 1 ? undefined : 'forward');
      await expect(makeImageSource({ ...FAST, timeoutMs: 300 }).fetch('s3://images/hotels/1/a.jpg')).resolves.toHaveLength(payload.length);
      expect(proxy.requests() - start).toBe(2);
    });

    it('caps the body while streaming when no ContentLength is announced', async () => {
      script = () => 'forward-chunked';
      const err = await fetchError('s3://images/hotels/1/a.jpg', { ...FAST, maxBytes: payload.length - 1 });
      expect(err.code).toBe(ImageErrorCode.TOO_LARGE);
      await expect(makeImageSource(FAST).fetch('s3://images/hotels/1/a.jpg')).resolves.toHaveLength(payload.length);
    });
  });
});
