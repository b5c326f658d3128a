import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { imageIdFromUri } from '../../lib/core/image-id';
import { countShardEntries, isInvalidEntry, parseShardLine, readShard } from '../../lib/core/pipeline/shard-reader';

describe('parseShardLine', () => {
  it('reads a plain URI and derives a stable image id', () => {
    const e = parseShardLine('s3://hotel-images/0000/0001.jpg', 3);
    expect(e).toEqual({ index: 3, uri: 's3://hotel-images/0000/0001.jpg', imageId: imageIdFromUri('s3://hotel-images/0000/0001.jpg') });
    expect(imageIdFromUri('a')).not.toEqual(imageIdFromUri('b'));
    expect(imageIdFromUri('a')).toMatch(/^[0-9a-f]{24}$/);
  });

  it('reads JSONL with hotel context and keeps a given image id', () => {
    const e = parseShardLine(JSON.stringify({ uri: '/x/a.jpg', image_id: 'img-1', hotel_id: 42, hotel_name: 'Hôtel Côte', city: 'Nice' }), 0);
    expect(e).toEqual({ index: 0, uri: '/x/a.jpg', imageId: 'img-1', hotelId: '42', hotelName: 'Hôtel Côte', city: 'Nice' });
  });

  it.each([
    ['{"uri": ', 'not valid JSON'],
    ['{"image_id": "x"}', 'uri'],
    ['{"uri": ""}', 'uri'],
    ['two words', 'single URI'],
    // Ids travel in TAB/newline-separated files: a tab would split one id in two when planning.
    [JSON.stringify({ uri: '/x/a.jpg', image_id: 'h1\t001' }), 'control characters'],
    [JSON.stringify({ uri: '/x/a.jpg', image_id: 'h1\n001' }), 'control characters'],
  ])('turns a bad line into an invalid entry: %s', (line, reason) => {
    const e = parseShardLine(line, 7);
    expect(isInvalidEntry(e)).toBe(true);
    expect((e as { reason: string }).reason).toContain(reason);
  });
});

describe('readShard', () => {
  it('streams plain, JSONL and gzip shards, skipping blank lines without using an index', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-shard-'));
    const text = ['/a.jpg', '', '{"uri":"/b.png","hotel_name":"H"}', '   ', '/c.webp', ''].join('\n');
    await fs.writeFile(path.join(dir, 's.jsonl'), text);
    await fs.writeFile(path.join(dir, 's.jsonl.gz'), gzipSync(text));
    for (const name of ['s.jsonl', 's.jsonl.gz']) {
      const entries = [];
      for await (const e of readShard(path.join(dir, name))) entries.push(e);
      expect(entries.map((e) => [e.index, (e as { uri: string }).uri])).toEqual([[0, '/a.jpg'], [1, '/b.png'], [2, '/c.webp']]);
      expect(await countShardEntries(path.join(dir, name))).toBe(3);
    }
  });

  it('fails with SHARD_NOT_FOUND for a missing shard', async () => {
    const it = readShard('/definitely/not/here.jsonl');
    await expect(it.next()).rejects.toMatchObject({ code: 'SHARD_NOT_FOUND' });
  });
});
