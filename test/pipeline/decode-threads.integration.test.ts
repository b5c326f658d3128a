/**
 * The worker with decode threads (pixels in shared slots, packed by the model thread) against the
 * worker decoding on its main thread: the same rows, embeddings equal bit for bit, the same failures.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { joinUri, listNames, readBytes, readText } from '../../lib/core/io/location';
import { silentLogger } from '../../lib/core/log';
import { readArrowFile } from '../../lib/core/pipeline/arrow-rows';
import { createWorker } from '../../lib/core/pipeline/worker';
import { parseWorkerConfig } from '../../lib/core/pipeline/worker-config';
import { writePhotoLikeJpegs } from '../support/fixtures';
import { TINY_MODEL_DIR } from '../support/models';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-decode-threads-'));
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

async function run(decodeThreads: number, shard: string) {
  const out = path.join(dir, `out-${decodeThreads}`);
  const worker = await createWorker(parseWorkerConfig({ model: TINY_MODEL_DIR, batchSize: 4, concurrency: 3, decodeThreads }), silentLogger);
  try {
    await worker.processShard(shard, out);
  } finally {
    await worker.close();
  }
  const rows: Record<string, unknown>[] = [];
  for (const name of (await listNames(out)).filter((n) => n.endsWith('.arrow')).sort()) {
    for (const row of readArrowFile(await readBytes(joinUri(out, name)))) rows.push(row!.toJSON() as Record<string, unknown>);
  }
  const errors = (await readText(joinUri(out, 'errors.jsonl'))).trim().split('\n').map((l) => JSON.parse(l));
  return {
    rows: rows
      .map((r) => ({ id: r.image_id, sha: r.content_sha256, tags: String(r.tags), embedding: Buffer.from(Float32Array.from(r.embedding as Iterable<number>).buffer).toString('base64') }))
      .sort((a, b) => String(a.id).localeCompare(String(b.id))),
    errors: errors.map((e) => `${path.basename(e.source_uri)} ${e.error_code}`).sort(),
  };
}

it('decode threads give the same rows and embeddings as decoding on the main thread', async () => {
  const photos = await writePhotoLikeJpegs(path.join(dir, 'photos'), 10, { megapixels: [0.2, 0.5] });
  const broken = path.join(dir, 'broken.jpg');
  await fs.writeFile(broken, (await fs.readFile(photos[0])).subarray(0, 2000));
  const text = path.join(dir, 'notes.jpg');
  await fs.writeFile(text, 'not an image');
  const shard = path.join(dir, 'shard.txt');
  await fs.writeFile(shard, [...photos, broken, text].join('\n') + '\n');

  const [inMain, inThreads] = [await run(0, shard), await run(2, shard)];
  expect(inThreads.rows).toHaveLength(10);
  expect(inThreads.errors).toEqual(['broken.jpg CORRUPT_IMAGE', 'notes.jpg NOT_AN_IMAGE']);
  expect(inThreads).toEqual(inMain);
});
