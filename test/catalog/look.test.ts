import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { command as show } from '../../lib/cli/commands/show';
import { command as tags } from '../../lib/cli/commands/tags';
import type { SyntheticShard } from '../support/results';
import { captured, loadedStore } from './support';

let root: string;
let db: string;
let shard: SyntheticShard;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-look-'));
  ({ db, shards: [shard] } = await loadedStore(root, [{ id: 'shard-00001', count: 60, failures: 3, seed: 3 }]));
});
afterAll(() => fs.rm(root, { recursive: true, force: true }));

test('vista show prints every stored column, the tags with scores, and the embedding', async () => {
  const row = shard.rows[5];
  const { code, out } = await captured(() => show.run({ db, json: true, 'with-embedding': true }, [row.imageId]));
  expect(code).toBe(0);
  const record = JSON.parse(out);
  expect(record.row).toMatchObject({ image_id: row.imageId, hotel_id: row.hotelId, seo_filename: row.seoFilename, source_uri: row.sourceUri, shard_id: 'shard-00001' });
  expect(record.tagScores.map((t: { tag: string }) => t.tag)).toEqual(row.tags);
  expect(record.embedding.dim).toBe(32);
  expect(record.embedding.values[0]).toBeCloseTo(shard.embeddings[5][0], 2);
  expect(record.errors).toEqual([]);

  const listing = await captured(() => show.run({ db }, [row.imageId]));
  expect(listing.out).toMatch(/^seo_filename\s+\S+/m);
  expect(listing.out).toMatch(/^embedding\s+dim 32, norm (0\.99|1\.0)/m);
});

test('vista show of a failed image prints its error record; an unknown id exits 1', async () => {
  const failed = await captured(() => show.run({ db, json: true }, [shard.failedIds[0]]));
  expect(failed.code).toBe(0);
  const record = JSON.parse(failed.out);
  expect(record.row).toBeUndefined();
  expect(record.errors).toHaveLength(1);
  expect(record.errors[0]).toMatchObject({ image_id: shard.failedIds[0], error_code: 'NOT_FOUND', shard_id: 'shard-00001' });
  expect((await captured(() => show.run({ db }, [shard.failedIds[0]]))).out).toMatch(/^error\s+NOT_FOUND: synthetic failure/m);
  const missing = await captured(() => show.run({ db }, ['no-such-image']));
  expect(missing.code).toBe(1);
  expect(missing.out).toMatch(/not in the store/);
  expect((await captured(() => show.run({}, ['x']))).code).toBe(2);
});

test('vista tags lists the taxonomy with thresholds and counts what the store holds', async () => {
  const plain = await captured(() => tags.run({}, []));
  expect(plain.code).toBe(0);
  expect(plain.out).toMatch(/^room_type \(exclusive: at most one\)$/m);
  expect(plain.out).toMatch(/^ {2}outdoor-pool\s+threshold 0\.\d\d$/m);

  const { out } = await captured(() => tags.run({ db, json: true }, []));
  const parsed = JSON.parse(out);
  expect(parsed.rows).toBe(60);
  expect(parsed.storeTaxonomies).toEqual({ 'synthetic-v1': 60 });
  // Synthetic tags: some are hotel-taxonomy tags ("spa"), some are not ("ocean view" with a space).
  const expected: Record<string, number> = {};
  for (const r of shard.rows) for (const t of r.tags) expected[t] = (expected[t] ?? 0) + 1;
  const counted: Record<string, number> = { ...parsed.notInTaxonomy };
  for (const c of parsed.categories) for (const l of c.labels) if (l.count > 0) counted[l.name] = l.count;
  expect(counted).toEqual(expected);
  expect(parsed.notInTaxonomy['ocean view']).toBe(expected['ocean view']);
  expect(parsed.notInTaxonomy.spa).toBeUndefined();
});
