/**
 * `vista serve` against hostile clients, over real HTTP on loopback: path traversal through a
 * local allow-list, slow bodies, and the bytes a crowd of large bodies may pin in memory.
 * The stages behind the server are fakes (any bytes "decode"), so a file read from outside the
 * allowed folder would come back as a 200: every refusal here is the allow-list's doing.
 */
import { promises as fs } from 'node:fs';
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
  const error = (JSON.parse(text) as { error?: { code: string; message: string } }).error;
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
