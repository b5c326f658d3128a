/**
 * The real worker (tiny random-weight model, sharp, Arrow) on real image files of every accepted
 * format and on broken ones of our own making, over local folders and a local S3 server.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { joinUri, listNames, readBytes, readText, writeAtomic } from '../../lib/core/io/location';
import { silentLogger } from '../../lib/core/log';
import { readArrowFile } from '../../lib/core/pipeline/arrow-rows';
import { createWorker, type Worker } from '../../lib/core/pipeline/worker';
import { parseWorkerConfig } from '../../lib/core/pipeline/worker-config';
import { writeFixtureImages, type FixtureImage } from '../support/fixtures';
import { TINY_MODEL_DIR } from '../support/models';
import { startS3, type LocalS3 } from '../support/s3';

const SEO_NAME = /^[a-z0-9]+(-[a-z0-9]+)*\.(jpg|png|webp|avif|gif|tif)$/;

async function readResults(outUri: string) {
  const rows: Record<string, unknown>[] = [];
  for (const name of (await listNames(outUri)).filter((n) => n.endsWith('.arrow'))) {
    const table = readArrowFile(await readBytes(joinUri(outUri, name)));
    for (const row of table) rows.push(row!.toJSON() as Record<string, unknown>);
  }
  const errorsText = await readText(joinUri(outUri, 'errors.jsonl'));
  const errors = errorsText.trim() ? errorsText.trim().split('\n').map((l) => JSON.parse(l)) : [];
  const summary = JSON.parse(await readText(joinUri(outUri, 'summary.json')));
  return { rows, errors, summary };
}

function shardLines(fixtures: FixtureImage[], uriOf: (f: FixtureImage) => string): string {
  const lines = fixtures.map((f, i) =>
    JSON.stringify({ uri: uriOf(f), image_id: `img-${f.name}`, hotel_id: `h${i % 3}`, hotel_name: 'Hôtel Côte d’Azur', city: 'Nice' }),
  );
  return [...lines, '{"uri": "/nowhere/missing.jpg", "image_id": "img-missing"}', 'not-json {', ''].join('\n');
}

function expectEveryInputAccounted(fixtures: FixtureImage[], results: Awaited<ReturnType<typeof readResults>>, dim: number) {
  const { rows, errors, summary } = results;
  expect(summary.input).toBe(fixtures.length + 2);
  expect(summary.succeeded + summary.failed).toBe(summary.input);
  expect(rows).toHaveLength(summary.succeeded);
  expect(errors).toHaveLength(summary.failed);

  const rowById = new Map(rows.map((r) => [r.image_id as string, r]));
  const errorById = new Map(errors.map((e: { image_id: string; error_code: string }) => [e.image_id, e]));
  for (const f of fixtures) {
    const id = `img-${f.name}`;
    if (f.expect.ok) {
      const row = rowById.get(id);
      expect({ name: f.name, format: row?.format }).toEqual({ name: f.name, format: f.expect.format });
      expect(row!.seo_filename).toMatch(SEO_NAME);
      expect(row!.seo_filename as string).toMatch(/^hotel-cote-azur-nice-/);
      const embedding = Array.from(row!.embedding as Float32Array);
      expect(embedding).toHaveLength(dim);
      expect(Math.hypot(...embedding)).toBeCloseTo(1, 4);
      expect((row!.tags as string[]).length).toBe((row!.tag_scores as number[]).length);
      expect(row!.content_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(row!.hotel_id).toMatch(/^h\d$/);
    } else {
      expect({ name: f.name, code: errorById.get(id)?.error_code }).toEqual({ name: f.name, code: f.expect.code });
    }
  }
  expect(errorById.get('img-missing')?.error_code).toBe('NOT_FOUND');
  expect(errors.filter((e: { error_code: string }) => e.error_code === 'INVALID_ENTRY')).toHaveLength(1);
  expect(new Set(rows.map((r) => r.image_id)).size).toBe(rows.length);
}

describe('worker on real images', () => {
  let tmp: string;
  let fixtures: FixtureImage[];
  let worker: Worker;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-worker-'));
    fixtures = await writeFixtureImages(path.join(tmp, 'images'));
    worker = await createWorker(
      parseWorkerConfig({ model: TINY_MODEL_DIR, artifacts: path.join(tmp, 'artifacts'), batchSize: 4, partSize: 7, concurrency: 5 }),
      silentLogger,
    );
  });
  afterAll(async () => {
    await worker?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('accounts for every input of a local shard with the right rows and error codes', async () => {
    const shard = path.join(tmp, 'shard.jsonl');
    await fs.writeFile(shard, shardLines(fixtures, (f) => f.path));
    const out = path.join(tmp, 'out-local');
    const { skipped } = await worker.processShard(shard, out);
    expect(skipped).toBe(false);
    expectEveryInputAccounted(fixtures, await readResults(out), worker.model.embedDim);

    // A shard whose summary exists is skipped, not redone.
    const again = await worker.processShard(shard, out);
    expect(again.skipped).toBe(true);
  });

  it('does the same when images, shard and results live in S3 (local S3 server)', async () => {
    const s3: LocalS3 = await startS3();
    try {
      const bucket = await s3.bucket('vista-worker-test');
      for (const f of fixtures) await writeAtomic(`${bucket}/images/${f.name}`, await fs.readFile(f.path));
      const shard = `${bucket}/shards/shard-00000.jsonl`;
      await writeAtomic(shard, shardLines(fixtures, (f) => `${bucket}/images/${f.name}`).replace('/nowhere/missing.jpg', `${bucket}/images/missing.jpg`));
      const out = `${bucket}/results/shard-00000`;
      await worker.processShard(shard, out);
      expectEveryInputAccounted(fixtures, await readResults(out), worker.model.embedDim);
    } finally {
      await s3.stop();
    }
  });
});
