import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { isVistaError } from '../../lib/core/errors';
import { imageIdFromUri } from '../../lib/core/image-id';
import { joinUri, listNames, readText, writeAtomic } from '../../lib/core/io/location';
import { shardManifest } from '../../lib/core/backfill/shard-manifest';
import { readShard } from '../../lib/core/pipeline/shard-reader';
import { startS3, type LocalS3 } from '../support/s3';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-shard-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function write(name: string, body: string | Buffer): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, body);
  return file;
}

async function shardLines(outPrefix: string, count: number): Promise<Record<string, unknown>[][]> {
  const shards = [];
  for (let i = 0; i < count; i++) {
    const text = await readText(joinUri(outPrefix, `shard-${String(i).padStart(5, '0')}.jsonl`));
    shards.push(text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
  }
  return shards;
}

const uris = (n: number, prefix = 's3://photos/h') => Array.from({ length: n }, (_, i) => `${prefix}/${i}.jpg`);

describe('shardManifest', () => {
  it('splits a plain-text manifest into shards of N normalized JSONL entries', async () => {
    const manifest = await write('m.txt', `${uris(23).join('\n')}\n`);
    const out = path.join(dir, 'shards');
    const result = await shardManifest({ manifestUri: manifest, outPrefix: out, shardSize: 10 });

    expect(result).toMatchObject({ shardCount: 3, entries: 23, shardSize: 10, lines: 23, reused: false });
    const shards = await shardLines(out, 3);
    expect(shards.map((s) => s.length)).toEqual([10, 10, 3]);
    expect(shards.flat().map((e) => e.uri)).toEqual(uris(23));
    expect(shards[0][0]).toEqual({ uri: 's3://photos/h/0.jpg', image_id: imageIdFromUri('s3://photos/h/0.jpg') });
    expect(await listNames(out)).toContain('_manifest.json');
  });

  it('keeps JSONL metadata (accents included) and the given image ids, and the worker reads the shards back', async () => {
    const lines = [
      { uri: 's3://p/a.jpg', image_id: 'img-a', hotel_id: 42, hotel_name: "Hôtel Côte d'Azur", city: 'Nice' },
      { uri: 's3://p/b.jpg', hotel_name: 'Seehotel', city: 'Zürich' },
    ];
    const manifest = await write('m.jsonl', lines.map((l) => JSON.stringify(l)).join('\n'));
    const out = path.join(dir, 'shards');
    await shardManifest({ manifestUri: manifest, outPrefix: out, shardSize: 5 });

    const entries = [];
    for await (const e of readShard(joinUri(out, 'shard-00000.jsonl'))) entries.push(e);
    expect(entries).toEqual([
      { index: 0, uri: 's3://p/a.jpg', imageId: 'img-a', hotelId: '42', hotelName: "Hôtel Côte d'Azur", city: 'Nice' },
      { index: 1, uri: 's3://p/b.jpg', imageId: imageIdFromUri('s3://p/b.jpg'), hotelName: 'Seehotel', city: 'Zürich' },
    ]);
  });

  it('reads gzipped manifests', async () => {
    const manifest = await write('m.txt.gz', gzipSync(`${uris(7).join('\n')}\n`));
    const result = await shardManifest({ manifestUri: manifest, outPrefix: path.join(dir, 'shards'), shardSize: 4 });
    expect(result).toMatchObject({ entries: 7, shardCount: 2 });
    expect((await shardLines(path.join(dir, 'shards'), 2)).flat().map((e) => e.uri)).toEqual(uris(7));
  });

  it('drops duplicates by image id (first wins), blank and invalid lines, and reports them with examples', async () => {
    const body = [
      's3://p/1.jpg',
      '',
      '   ',
      's3://p/2.jpg',
      '{"uri": "s3://p/1.jpg", "hotel_id": "dup"}',
      '{not json',
      'two words',
      '{"image_id": "no-uri"}',
      's3://p/2.jpg',
      '{"uri": "s3://p/3.jpg", "image_id": "img-3"}',
      '{"uri": "https://cdn.example.com/3.jpg", "image_id": "img-3"}',
      '{"uri": "s3://p/3.jpg", "image_id": "img-3-crop"}',
    ].join('\r\n');
    const manifest = await write('m.txt', body);
    const result = await shardManifest({ manifestUri: manifest, outPrefix: path.join(dir, 'shards'), shardSize: 100, exampleLimit: 3 });

    expect(result).toMatchObject({ entries: 4, lines: 12, blankLines: 2 });
    expect(result.duplicates.count).toBe(3);
    // A repeated URI is a repeated derived id; one id under two URIs is a duplicate too; one URI
    // under two explicit ids is two images.
    expect(result.duplicates.examples).toEqual([
      { line: 5, uri: 's3://p/1.jpg', imageId: expect.any(String) },
      { line: 9, uri: 's3://p/2.jpg', imageId: expect.any(String) },
      { line: 11, uri: 'https://cdn.example.com/3.jpg', imageId: 'img-3' },
    ]);
    expect(result.invalid.count).toBe(3);
    expect(result.invalid.examples.map((e) => e.line)).toEqual([6, 7, 8]);
    const entries = (await shardLines(path.join(dir, 'shards'), 1))[0];
    expect(entries.map((e) => e.uri)).toEqual(['s3://p/1.jpg', 's3://p/2.jpg', 's3://p/3.jpg', 's3://p/3.jpg']);
    expect(entries.map((e) => e.image_id).slice(2)).toEqual(['img-3', 'img-3-crop']);
  });

  it('grows the shard size rather than exceed the maximum number of shards', async () => {
    const manifest = await write('m.txt', uris(95).join('\n'));
    const result = await shardManifest({ manifestUri: manifest, outPrefix: path.join(dir, 'shards'), shardSize: 10, maxShards: 4 });
    expect(result).toMatchObject({ requestedShardSize: 10, shardSize: 24, shardCount: 4, entries: 95 });
  });

  it('is idempotent: the same manifest gives the same shards, and an already sharded run is kept', async () => {
    const manifest = await write('m.txt', uris(12).join('\n'));
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    const first = await shardManifest({ manifestUri: manifest, outPrefix: a, shardSize: 5 });
    await shardManifest({ manifestUri: manifest, outPrefix: b, shardSize: 5 });
    for (const name of ['shard-00000.jsonl', 'shard-00001.jsonl', 'shard-00002.jsonl']) {
      expect(await readText(joinUri(a, name))).toBe(await readText(joinUri(b, name)));
    }
    const again = await shardManifest({ manifestUri: manifest, outPrefix: a, shardSize: 5 });
    expect(again.reused).toBe(true);
    expect({ ...again, reused: false }).toEqual(first);
  });

  it('refuses to re-shard a run from a different manifest, and rejects empty manifests', async () => {
    const out = path.join(dir, 'shards');
    await shardManifest({ manifestUri: await write('m1.txt', uris(3).join('\n')), outPrefix: out, shardSize: 5 });
    const other = await write('m2.txt', uris(4).join('\n'));
    await expect(shardManifest({ manifestUri: other, outPrefix: out, shardSize: 5 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });

    const empty = await write('empty.txt', '\n\n{bad\n');
    const err = await shardManifest({ manifestUri: empty, outPrefix: path.join(dir, 'e'), shardSize: 5 }).catch((e) => e);
    expect(isVistaError(err) && err.message).toMatch(/no valid entries/);
  });

  it('removes shard files left past the count by an interrupted attempt', async () => {
    const out = path.join(dir, 'shards');
    await writeAtomic(joinUri(out, 'shard-00007.jsonl'), '{"uri":"stale"}\n');
    await shardManifest({ manifestUri: await write('m.txt', uris(3).join('\n')), outPrefix: out, shardSize: 2 });
    expect(await listNames(out)).toEqual(['_manifest.json', 'shard-00000.jsonl', 'shard-00001.jsonl']);
  });

  it('reports a missing manifest as a configuration error', async () => {
    await expect(shardManifest({ manifestUri: path.join(dir, 'nope.txt'), outPrefix: path.join(dir, 's'), shardSize: 5 })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });

  describe('on S3', () => {
    let s3: LocalS3;
    beforeAll(async () => {
      s3 = await startS3();
    });
    afterAll(async () => {
      await s3.stop();
    });

    it('reads the manifest from S3 and writes the shards there', async () => {
      const bucket = await s3.bucket('manifests');
      await writeAtomic(`${bucket}/in/m.jsonl.gz`, gzipSync(uris(9).map((uri) => JSON.stringify({ uri })).join('\n')));
      const out = `${bucket}/work/runs/r1/shards`;
      const result = await shardManifest({ manifestUri: `${bucket}/in/m.jsonl.gz`, outPrefix: out, shardSize: 4 });

      expect(result).toMatchObject({ entries: 9, shardCount: 3 });
      expect(await listNames(out)).toEqual(['_manifest.json', 'shard-00000.jsonl', 'shard-00001.jsonl', 'shard-00002.jsonl']);
      expect((await shardLines(out, 3)).flat().map((e) => e.uri)).toEqual(uris(9));
    });
  });
});
