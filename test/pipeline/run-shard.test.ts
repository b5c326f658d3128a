import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ImageErrorCode, SystemErrorCode, VistaError } from '../../lib/core/errors';
import type { Enricher } from '../../lib/core/pipeline/enricher';
import { readArrowFile } from '../../lib/core/pipeline/arrow-rows';
import { runShard, type ShardRunDeps } from '../../lib/core/pipeline/run-shard';
import { makeShardOutput, type ShardOutput } from '../../lib/core/pipeline/shard-output';
import type { DecodedImage } from '../../lib/core/types';

const DIM = 4;

/** Fakes for the stages whose real versions have their own tests; the wiring is what's tested here. */
function fakeDeps(out: ShardOutput): ShardRunDeps {
  return {
    source: {
      async fetch(uri) {
        if (uri.includes('missing')) throw new VistaError(ImageErrorCode.NOT_FOUND, `no such file: ${uri}`);
        await new Promise((r) => setTimeout(r, Math.random() * 3));
        return Buffer.from(uri);
      },
    },
    decoder: {
      async decode(bytes): Promise<DecodedImage> {
        if (bytes.toString().includes('corrupt')) throw new VistaError(ImageErrorCode.CORRUPT_IMAGE, 'truncated');
        return { pixels: new Float32Array(3), width: 10, height: 5, format: 'jpeg', contentSha256: 'sha' };
      },
    },
    enricher: {
      modelId: 'fake@1',
      taxonomyId: 'tax@1',
      embedDim: DIM,
      async enrich(batch) {
        return batch.map((d) => ({
          ok: true as const,
          row: {
            imageId: d.entry.imageId, sourceUri: d.entry.uri, seoFilename: `${d.entry.imageId}.jpg`, tags: ['pool'], tagScores: [0.9],
            embedding: new Float32Array(DIM).fill(d.entry.index), width: 10, height: 5, format: 'jpeg', contentSha256: 'sha',
            modelId: 'fake@1', taxonomyId: 'tax@1', processedAt: new Date(),
          },
        }));
      },
    } satisfies Enricher,
    output: out,
  };
}

async function writeShard(dir: string, n: number): Promise<string> {
  const lines = [];
  for (let i = 0; i < n; i++) {
    const kind = i % 10 === 3 ? 'missing' : i % 10 === 7 ? 'corrupt' : 'ok';
    lines.push(JSON.stringify({ uri: `/img/${kind}-${i}.jpg`, image_id: `id-${i}` }));
  }
  lines.push('not a uri line');
  const file = path.join(dir, 'shard.jsonl');
  await fs.writeFile(file, lines.join('\n'));
  return file;
}

async function readAllRows(outDir: string): Promise<string[]> {
  const ids: string[] = [];
  for (const name of (await fs.readdir(outDir)).filter((n) => n.endsWith('.arrow'))) {
    const table = readArrowFile(await fs.readFile(path.join(outDir, name)));
    for (const id of table.getChild('image_id')!.toArray()) ids.push(id as string);
  }
  return ids;
}

describe('runShard', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-run-'));
  });

  it('accounts for every entry as a row or a coded error, part by part', async () => {
    const shard = await writeShard(dir, 95);
    const out = path.join(dir, 'out');
    const summary = await runShard(fakeDeps(makeShardOutput(out, DIM)), { shardUri: shard, partSize: 20, batchSize: 8, concurrency: 6 });
    expect(summary.input).toBe(96);
    expect(summary.succeeded + summary.failed).toBe(96);
    expect(summary.failed_by_code).toEqual({ NOT_FOUND: 10, CORRUPT_IMAGE: 9, INVALID_ENTRY: 1 });
    expect(summary.parts.map((p) => p.name)).toEqual(['part-00000.arrow', 'part-00001.arrow', 'part-00002.arrow', 'part-00003.arrow', 'part-00004.arrow']);
    const ids = await readAllRows(out);
    expect(ids).toHaveLength(summary.succeeded);
    expect(new Set(ids).size).toBe(ids.length);
    const errors = (await fs.readFile(path.join(out, 'errors.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(errors).toHaveLength(20);
    expect(errors[0]).toEqual({ image_id: 'id-3', source_uri: '/img/missing-3.jpg', error_code: 'NOT_FOUND', message: expect.stringContaining('no such file') });
  });

  it('resumes after a crash: finished parts are skipped, the rest redone, no duplicates, nothing missing', async () => {
    const shard = await writeShard(dir, 100);
    const out = path.join(dir, 'out');
    const real = makeShardOutput(out, DIM);
    let writes = 0;
    const crashing: ShardOutput = {
      ...real,
      async writePart(...args) {
        if (++writes === 3) throw new Error('disk gone');
        return real.writePart(...args);
      },
    };
    await expect(runShard(fakeDeps(crashing), { shardUri: shard, partSize: 10, batchSize: 4, concurrency: 4 })).rejects.toThrow('disk gone');
    expect(await real.isComplete()).toBe(false);
    const before = (await real.completedParts()).size;
    expect(before).toBeGreaterThanOrEqual(2);

    const summary = await runShard(fakeDeps(real), { shardUri: shard, partSize: 10, batchSize: 4, concurrency: 4 });
    expect(summary.resumed_parts).toBe(before);
    expect(summary.input).toBe(101);
    const ids = await readAllRows(out);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(summary.succeeded);
    expect(summary.succeeded).toBe(80);
  });

  it('keeps the part size of the interrupted run, so a changed --part-size neither skips nor redoes entries', async () => {
    const shard = await writeShard(dir, 100);
    const out = path.join(dir, 'out');
    const real = makeShardOutput(out, DIM);
    let writes = 0;
    const crashing: ShardOutput = { ...real, async writePart(...args) {
      if (++writes === 4) throw new Error('killed');
      return real.writePart(...args);
    } };
    await expect(runShard(fakeDeps(crashing), { shardUri: shard, partSize: 10, batchSize: 4, concurrency: 4 })).rejects.toThrow('killed');
    const summary = await runShard(fakeDeps(real), { shardUri: shard, partSize: 25, batchSize: 4, concurrency: 4 });
    expect(summary.input).toBe(101);
    const ids = await readAllRows(out);
    expect(ids).toHaveLength(80);
    expect(new Set(ids).size).toBe(80);
    expect([...(await real.completedParts()).values()].every((m) => m.part_size === 10)).toBe(true);
  });

  it('refuses to finish a shard started with another model (it would mix two embedding spaces)', async () => {
    const shard = await writeShard(dir, 30);
    const out = path.join(dir, 'out');
    const real = makeShardOutput(out, DIM);
    const crashing: ShardOutput = { ...real, async writePart(...args) {
      if (args[0] === 2) throw new Error('killed');
      return real.writePart(...args);
    } };
    await expect(runShard(fakeDeps(crashing), { shardUri: shard, partSize: 10, batchSize: 4, concurrency: 1 })).rejects.toThrow('killed');
    const other = fakeDeps(real);
    const otherModel = { ...other, enricher: { ...other.enricher, modelId: 'another@2' } };
    await expect(runShard(otherModel, { shardUri: shard, partSize: 10, batchSize: 4, concurrency: 1 })).rejects.toMatchObject({
      code: 'OUTPUT_INVALID',
      message: expect.stringContaining('fake@1'),
    });
  });

  it('stops the shard when the model is gone (retryable), writing no part for images it could not finish; a rerun completes it', async () => {
    const shard = await writeShard(dir, 100);
    const out = path.join(dir, 'out');
    const output = makeShardOutput(out, DIM);
    const healthy = fakeDeps(output);
    let batches = 0;
    const dying: ShardRunDeps = {
      ...healthy,
      enricher: {
        ...healthy.enricher,
        async enrich(batch) {
          if (++batches >= 6) throw new VistaError(SystemErrorCode.MODEL_UNAVAILABLE, 'model thread stopped');
          return healthy.enricher.enrich(batch);
        },
      },
    };
    await expect(runShard(dying, { shardUri: shard, partSize: 10, batchSize: 4, concurrency: 4 })).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    const markers = [...(await output.completedParts()).values()];
    // No image was written off as failed because of the model: every error is the image's own.
    const ownFault = (e: { error_code: string; source_uri: string }) =>
      (e.error_code === 'NOT_FOUND' && e.source_uri.includes('missing')) || (e.error_code === 'CORRUPT_IMAGE' && e.source_uri.includes('corrupt')) || e.error_code === 'INVALID_ENTRY';
    expect(markers.flatMap((m) => m.errors).every(ownFault)).toBe(true);
    expect(markers.reduce((n, m) => n + m.succeeded, 0)).toBeLessThan(80);

    const summary = await runShard(fakeDeps(output), { shardUri: shard, partSize: 10, batchSize: 4, concurrency: 4 });
    expect(summary).toMatchObject({ input: 101, succeeded: 80, failed: 21 });
    const ids = await readAllRows(out);
    expect(new Set(ids).size).toBe(80);
    expect(ids).toHaveLength(80);
  });

  it('a shard that breaks mid-read (truncated gzip) fails as SHARD_INVALID after settling in-flight work; the fixed shard resumes cleanly', async () => {
    const plain = await writeShard(dir, 400);
    const full = gzipSync(await fs.readFile(plain));
    const gz = path.join(dir, 'shard.jsonl.gz');
    await fs.writeFile(gz, full.subarray(0, Math.floor(full.length * 0.6)));
    const out = path.join(dir, 'out');
    const output = makeShardOutput(out, DIM);
    await expect(runShard(fakeDeps(output), { shardUri: gz, partSize: 10, batchSize: 4, concurrency: 8 })).rejects.toMatchObject({ code: 'SHARD_INVALID' });
    const written = [...(await output.completedParts()).values()];
    expect(written.every((m) => m.input === 10)).toBe(true);

    await fs.writeFile(gz, full);
    const summary = await runShard(fakeDeps(output), { shardUri: gz, partSize: 10, batchSize: 4, concurrency: 8 });
    expect(summary.resumed_parts).toBe(written.length);
    expect(summary).toMatchObject({ input: 401, succeeded: 320, failed: 81 });
    const ids = await readAllRows(out);
    expect(new Set(ids).size).toBe(320);
    expect(ids).toHaveLength(320);
  });

  it('removes a stale part file when the redone part has no rows', async () => {
    const out = path.join(dir, 'out');
    const output = makeShardOutput(out, DIM);
    const shard = path.join(dir, 'bad.jsonl');
    await fs.writeFile(shard, ['/img/missing-1.jpg', '/img/corrupt-2.jpg'].join('\n'));
    await fs.mkdir(out, { recursive: true });
    await fs.writeFile(path.join(out, 'part-00000.arrow'), 'left by a crashed run');
    const summary = await runShard(fakeDeps(output), { shardUri: shard, partSize: 10, batchSize: 4, concurrency: 2 });
    expect(summary).toMatchObject({ input: 2, succeeded: 0, failed: 2 });
    expect(await fs.readdir(out)).not.toContain('part-00000.arrow');
  });
});

describe('runShard end-of-shard retry', () => {
  it('tries transient fetch failures once more at the end: recovered images become rows, the rest stay failed once, and the counts stay exact', async () => {
    const { TransientError } = await import('../../lib/core/io/retry');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-endretry-'));
    const shard = path.join(dir, 'shard.jsonl');
    // flaky-*: throttled the first time, then works; down-*: transient every time; gone-*: permanent.
    const kinds = (i: number) => (i % 5 === 1 ? 'flaky' : i % 5 === 2 ? 'down' : i % 5 === 3 ? 'gone' : 'ok');
    await fs.writeFile(shard, Array.from({ length: 50 }, (_, i) => JSON.stringify({ uri: `/img/${kinds(i)}-${i}.jpg`, image_id: `id-${i}` })).join('\n'));
    const out = path.join(dir, 'out');
    const deps = fakeDeps(makeShardOutput(out, DIM));
    const calls = new Map<string, number>();
    deps.source = {
      async fetch(uri) {
        const n = (calls.get(uri) ?? 0) + 1;
        calls.set(uri, n);
        if (uri.includes('gone')) throw new VistaError(ImageErrorCode.NOT_FOUND, `${uri}: gone`);
        if (uri.includes('down')) throw new VistaError(ImageErrorCode.FETCH_TIMEOUT, `${uri}: too slow (after 5 attempts)`, { details: { attempts: 5, transient: true } });
        if (uri.includes('flaky') && n === 1) throw new TransientError(ImageErrorCode.FETCH_FAILED, `${uri}: SlowDown`, undefined, true);
        return Buffer.from(uri);
      },
    };
    const started = Date.now();
    const summary = await runShard(deps, { shardUri: shard, partSize: 7, batchSize: 4, concurrency: 5, endRetry: { pauseMs: 300 } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(summary).toMatchObject({ input: 50, succeeded: 30, failed: 20, failed_by_code: { FETCH_TIMEOUT: 10, NOT_FOUND: 10 }, end_retry: { retried: 20, recovered: 10 } });
    const rows = await readAllRows(out);
    expect(rows).toHaveLength(30);
    expect(new Set(rows).size).toBe(30);
    const errors = (await fs.readFile(path.join(out, 'errors.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { image_id: string });
    expect(errors).toHaveLength(20);
    expect(new Set([...rows, ...errors.map((e) => e.image_id)]).size).toBe(50);
    // Permanent failures are not retried; transient ones exactly once more.
    expect(calls.get('/img/gone-3.jpg')).toBe(1);
    expect(calls.get('/img/down-2.jpg')).toBe(2);
    expect(calls.get('/img/flaky-1.jpg')).toBe(2);
  });

  it('retries transient fetch failures at the end with the decode pool too (fetch and decode in one call, the failed step in the error)', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-endretry-pool-'));
    const shard = path.join(dir, 'shard.jsonl');
    await fs.writeFile(shard, Array.from({ length: 12 }, (_, i) => JSON.stringify({ uri: `/img/${['flaky', 'ok', 'corrupt'][i % 3]}-${i}.jpg`, image_id: `id-${i}` })).join('\n'));
    const deps = fakeDeps(makeShardOutput(path.join(dir, 'out'), DIM));
    const calls = new Map<string, number>();
    // What the pool rejects with (decode-pool.ts): the source's or decoder's error, its step in details.stage.
    deps.decoder = {
      decode: deps.decoder.decode,
      async fetchAndDecode(uri: string): Promise<DecodedImage> {
        const n = (calls.get(uri) ?? 0) + 1;
        calls.set(uri, n);
        if (uri.includes('flaky') && n === 1) throw new VistaError(ImageErrorCode.FETCH_FAILED, `${uri}: reset`, { details: { transient: true, stage: 'fetch' } });
        if (uri.includes('corrupt')) throw new VistaError(ImageErrorCode.CORRUPT_IMAGE, `${uri}: truncated`, { details: { stage: 'decode' } });
        return { pixels: new Float32Array(3), width: 10, height: 5, format: 'jpeg', contentSha256: 'sha' };
      },
    };
    const summary = await runShard(deps, { shardUri: shard, partSize: 5, batchSize: 4, concurrency: 3, endRetry: { pauseMs: 1 } });
    expect(summary).toMatchObject({ input: 12, succeeded: 8, failed: 4, failed_by_code: { CORRUPT_IMAGE: 4 }, end_retry: { retried: 4, recovered: 4 } });
    expect(calls.get('/img/flaky-0.jpg')).toBe(2);
    expect(calls.get('/img/corrupt-2.jpg')).toBe(1);
  });

  it('without endRetry, transient failures are final at once', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-endretry-'));
    const shard = path.join(dir, 'shard.jsonl');
    await fs.writeFile(shard, ['/img/a.jpg', '/img/b.jpg'].join('\n'));
    const deps = fakeDeps(makeShardOutput(path.join(dir, 'out'), DIM));
    let calls = 0;
    deps.source = {
      async fetch() {
        calls++;
        throw new VistaError(ImageErrorCode.FETCH_FAILED, 'reset', { details: { transient: true } });
      },
    };
    const summary = await runShard(deps, { shardUri: shard, partSize: 7, batchSize: 4, concurrency: 5 });
    expect(summary).toMatchObject({ failed: 2, succeeded: 0 });
    expect(summary.end_retry).toBeUndefined();
    expect(calls).toBe(2);
  });
});
