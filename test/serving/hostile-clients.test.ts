/**
 * `vista serve` against hostile clients, over real HTTP on loopback: path traversal through a
 * local allow-list, slow bodies, and the bytes a crowd of large bodies may pin in memory.
 * The stages behind the server are fakes (any bytes "decode"), so a file read from outside the
 * allowed folder would come back as a 200: every refusal here is the allow-list's doing.
 */
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeImageSource } from '../../lib/core/io/source';
import type { Enricher } from '../../lib/core/pipeline/enricher';
import { makeEnrichService, type EnrichServiceDeps } from '../../lib/core/serving/enrich-service';
import { type InferenceServer, startInferenceServer } from '../../lib/core/serving/http-server';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function deps(options: { enrichDelayMs?: number } = {}): EnrichServiceDeps {
  const enricher: Enricher = {
    modelId: 'fake@1',
    taxonomyId: 'tax@1',
    embedDim: 2,
    async enrich(batch) {
      await sleep(options.enrichDelayMs ?? 0);
      return batch.map((d) => ({
        ok: true as const,
        row: {
          imageId: d.entry.imageId, sourceUri: d.entry.uri, seoFilename: 'x.jpg', tags: [], tagScores: [], embedding: Float32Array.of(1, 0),
          width: 1, height: 1, format: 'jpeg' as const, contentSha256: 'sha', modelId: 'fake@1', taxonomyId: 'tax@1', processedAt: new Date(),
        },
      }));
    },
  };
  return {
    source: makeImageSource({ retries: 0, timeoutMs: 5_000 }),
    decoder: { decode: async (bytes) => ({ pixels: new Float32Array(3), width: 1, height: 1, format: 'jpeg', contentSha256: String(bytes.length) }) },
    enricher,
  };
}

interface Answer {
  status: number;
  text: string;
  code?: string;
  message?: string;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let error: { code: string; message: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    // Node's own answers (a 408 of its request timeout) have no JSON body
  }
  return { status: res.status, text, code: error?.code, message: error?.message };
}

describe('path traversal through a local allow-list', () => {
  let tmp: string;
  let allowed: string;
  let other: string;
  let server: InferenceServer;
  const ask = async (uri: string) =>
    answer(await fetch(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uri, include_embedding: false }) }));

  beforeAll(async () => {
    tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'vista-hostile-')));
    allowed = path.join(tmp, 'allowed');
    other = path.join(tmp, 'other');
    await fs.mkdir(path.join(allowed, 'sub'), { recursive: true });
    await fs.mkdir(other);
    await fs.writeFile(path.join(allowed, 'a.jpg'), 'inside');
    await fs.writeFile(path.join(allowed, 'sub', 'b.jpg'), 'inside too');
    await fs.writeFile(path.join(allowed, 'empty.jpg'), '');
    await fs.writeFile(path.join(other, 'secret.jpg'), 'outside');
    await fs.symlink(path.join(other, 'secret.jpg'), path.join(allowed, 'link-out.jpg'));
    await fs.symlink(other, path.join(allowed, 'dir-out'));
    await fs.symlink(path.join(allowed, 'sub', 'b.jpg'), path.join(allowed, 'link-in.jpg'));
    await fs.symlink(path.join(allowed, 'empty.jpg'), path.join(allowed, 'link-empty.jpg'));
    const service = makeEnrichService(deps(), { allowedUriPrefixes: [pathToFileURL(allowed).href + '/'], maxWaitMs: 0 });
    server = await startInferenceServer(service, { port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await server?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const fileUri = (p: string) => pathToFileURL(p).href;

  it('reads files inside the prefix, through symlinks that stay inside', async () => {
    expect(await ask(fileUri(path.join(allowed, 'a.jpg')))).toMatchObject({ status: 200 });
    expect(await ask(fileUri(path.join(allowed, 'sub', 'b.jpg')))).toMatchObject({ status: 200 });
    expect(await ask(fileUri(path.join(allowed, 'link-in.jpg')))).toMatchObject({ status: 200 });
    expect(await ask(`${fileUri(allowed)}/sub/%62.jpg`)).toMatchObject({ status: 200 }); // %62 = b
  });

  it('refuses dot segments in every spelling, decoded before the check', async () => {
    const base = fileUri(allowed);
    for (const uri of [
      `${base}/%2e%2e/other/secret.jpg`,
      `${base}/%2E%2E/other/secret.jpg`,
      `${base}/.%2e/other/secret.jpg`,
      `${base}/sub/%2e%2e/%2e%2e/other/secret.jpg`,
      `${base}/../other/secret.jpg`,
      `${allowed}/../other/secret.jpg`,
      fileUri(path.join(other, 'secret.jpg')),
      'file:///etc/passwd',
      `${base}%2f..%2fother/secret.jpg`,
    ]) {
      const got = await ask(uri);
      expect({ uri, status: got.status }).toEqual({ uri, status: 400 });
      expect(got.code).toBe('REQUEST_INVALID');
      expect(got.text).not.toContain(other);
    }
  });

  it('answers the same for a missing file and a file whose real path leaves the prefix, and never echoes a resolved path', async () => {
    const base = fileUri(allowed);
    const answers = await Promise.all(
      [`${base}/missing.jpg`, `${base}/link-out.jpg`, `${base}/dir-out/secret.jpg`, `${base}/dir-out/missing.jpg`, `${base}/sub/missing/x.jpg`].map(async (uri) => ({ uri, ...(await ask(uri)) })),
    );
    for (const got of answers) {
      expect(got.status).toBe(404);
      expect(got.code).toBe('NOT_FOUND');
      expect(got.message).toBe(`${got.uri}: not found under the allowed prefixes`);
      expect(got.text).not.toContain(other);
    }
  });

  it('names the URI as sent, not its real path, in errors of files inside', async () => {
    const got = await ask(fileUri(path.join(allowed, 'link-empty.jpg')));
    expect(got).toMatchObject({ status: 422, code: 'EMPTY' });
    expect(got.text).toContain('link-empty.jpg');
    expect(got.text).not.toContain(path.join(allowed, 'empty.jpg'));
  });

  it('refuses other schemes, and dot segments in S3 keys', async () => {
    const service = makeEnrichService(deps(), { allowedUriPrefixes: ['s3://uploads/in/'], maxWaitMs: 0 });
    for (const uri of ['s3://uploads/in/../secret/a.jpg', 's3://uploads/in/./a.jpg', 's3://uploads/in/x/../../b.jpg', 'http://169.254.169.254/latest/', 'gopher://x/in/a.jpg', '/etc/passwd']) {
      await expect(service.enrich({ uri, include_embedding: false })).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
    }
  });
});

/**
 * A raw client that sends the head of a POST /invocations, then `bytesPerTick` bytes of its body
 * every `tickMs`, at most `ticks` times (so it stops by itself), and resolves with whatever the
 * server answered once the connection is closed (or after its last tick plus `lingerMs`).
 */
function slowClient(port: number, options: { declared?: number; head?: string; bytesPerTick?: number; tickMs: number; ticks: number; lingerMs?: number }) {
  return new Promise<{ answer: string; closedByServer: boolean; sent: number }>((resolve) => {
    let answer = '';
    let sent = 0;
    let tick = 0;
    let timer: NodeJS.Timeout | undefined;
    let closedByServer = false;
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(options.head ?? `POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: ${options.declared ?? 1000}\r\n\r\n`);
      const next = () => {
        if (socket.destroyed) return;
        if (tick++ >= options.ticks) {
          timer = setTimeout(() => socket.destroy(), options.lingerMs ?? 0);
          return;
        }
        socket.write(Buffer.alloc(options.bytesPerTick ?? 1, 0x61), () => (sent += options.bytesPerTick ?? 1));
        timer = setTimeout(next, options.tickMs);
      };
      timer = setTimeout(next, options.tickMs);
    });
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('end', () => (closedByServer = true));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, closedByServer, sent });
    });
  });
}

const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

describe('slow clients', () => {
  it('64 connections sending a byte at a time block no legitimate request, and are cut off at the body deadline', async () => {
    const service = makeEnrichService(deps(), { maxWaitMs: 0 });
    // Room for exactly the 8 legitimate requests: the 64 slow ones must not count, or some of the 8 get BUSY.
    const server = await startInferenceServer(service, { port: 0, host: '127.0.0.1', maxInFlight: 8, bodyTimeoutMs: 2_000, bodyIdleTimeoutMs: 1_000 });
    const port = Number(new URL(server.url).port);
    try {
      // Each sends a byte every 200 ms for at most 10 s (50 ticks): far longer than the deadline.
      const slow = Array.from({ length: 64 }, () => slowClient(port, { declared: 1_000, tickMs: 200, ticks: 50 }));
      await sleep(400);
      const legit = await Promise.all(
        Array.from({ length: 8 }, () => fetch(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: Buffer.from('img') }).then(answer)),
      );
      expect(legit.map((a) => a.status)).toEqual(Array(8).fill(200));
      const outcomes = await Promise.all(slow);
      for (const outcome of outcomes) {
        expect(statusOf(outcome.answer)).toBe(408);
        expect(outcome.answer).toContain('BODY_TIMEOUT');
        expect(outcome.closedByServer).toBe(true);
        expect(outcome.sent).toBeLessThan(50); // cut off, not finished by the client
      }
      expect(server.stats.bufferedBytes).toBe(0);
      expect(server.stats.inFlight).toBe(0);
    } finally {
      await server.close(1_000);
    }
  });

  it('a body that stops arriving is answered 408 after the idle timeout, and its bytes are let go', async () => {
    const server = await startInferenceServer(makeEnrichService(deps(), { maxWaitMs: 0 }), { port: 0, host: '127.0.0.1', bodyTimeoutMs: 10_000, bodyIdleTimeoutMs: 300 });
    const port = Number(new URL(server.url).port);
    try {
      const outcome = await slowClient(port, { declared: 100_000, bytesPerTick: 50_000, tickMs: 10, ticks: 1, lingerMs: 5_000 });
      expect(statusOf(outcome.answer)).toBe(408);
      expect(outcome.answer).toContain('no request body bytes for 300 ms');
      expect(outcome.closedByServer).toBe(true);
      expect(server.stats.peakBufferedBytes).toBe(50_000);
      expect(server.stats.bufferedBytes).toBe(0);
    } finally {
      await server.close(1_000);
    }
  });

  it('a request head that never ends is dropped after the headers timeout', async () => {
    const server = await startInferenceServer(makeEnrichService(deps(), { maxWaitMs: 0 }), { port: 0, host: '127.0.0.1', headersTimeoutMs: 300 });
    const port = Number(new URL(server.url).port);
    try {
      // Sends a header line every 100 ms for at most 6 s: never the blank line that ends the head.
      const outcome = await slowClient(port, { head: 'POST /invocations HTTP/1.1\r\nHost: x\r\n', bytesPerTick: 1, tickMs: 100, ticks: 60 });
      expect(outcome.closedByServer).toBe(true);
      expect(outcome.sent).toBeLessThan(60);
    } finally {
      await server.close(1_000);
    }
  });
});

describe('memory bound: bytes of bodies in flight', () => {
  const post = (url: string, body: Buffer | ReadableStream<Uint8Array>) =>
    fetch(`${url}/invocations`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body, ...(body instanceof Buffer ? {} : { duplex: 'half' }) } as RequestInit).then(answer);

  it('answers 503 BUSY past the byte budget instead of holding more, and gives every byte back', async () => {
    const MiB = 1024 * 1024;
    const server = await startInferenceServer(makeEnrichService(deps({ enrichDelayMs: 2_000 }), { maxWaitMs: 0, maxSize: 64 }), {
      port: 0, host: '127.0.0.1', maxBodyBytes: 2 * MiB, maxBufferedBytes: 6 * MiB, maxInFlight: 64,
    });
    try {
      const body = Buffer.alloc(1.5 * MiB, 1);
      const answers = await Promise.all(Array.from({ length: 24 }, () => post(server.url, body)));
      const statuses = answers.map((a) => a.status);
      expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
      expect(answers.filter((a) => a.status === 503).every((a) => a.code === 'BUSY')).toBe(true);
      // 24 × 1.5 MiB = 36 MiB were sent at once; never more than the budget was held.
      expect(server.stats.peakBufferedBytes).toBeLessThanOrEqual(6 * MiB);
      expect(server.stats.peakBufferedBytes).toBeGreaterThan(1.5 * MiB);
      expect(server.stats.bufferedBytes).toBe(0);

      // A body of unknown length (chunked) is refused as soon as it would pass the budget.
      const holding = Array.from({ length: 3 }, () => post(server.url, Buffer.alloc(2 * MiB - 1, 1))); // held for their 2 s of work
      for (let i = 0; i < 100 && server.stats.bufferedBytes < 3 * (2 * MiB - 1); i++) await sleep(50); // all three arrived
      expect(server.stats.bufferedBytes).toBe(3 * (2 * MiB - 1));
      const chunks = Array.from({ length: 8 }, () => new Uint8Array(128 * 1024).fill(2)); // 1 MiB
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      });
      const refused = await post(server.url, stream);
      expect(refused).toMatchObject({ status: 503, code: 'BUSY' });
      expect((await Promise.all(holding)).map((a) => a.status)).toEqual([200, 200, 200]);
      expect(server.stats.peakBufferedBytes).toBeLessThanOrEqual(6 * MiB);
      expect(server.stats.bufferedBytes).toBe(0);
    } finally {
      await server.close(1_000);
    }
  });
});
