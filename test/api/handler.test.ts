import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ApiDeps, type ApiHandler, type ApiResponse, makeApiHandler } from '../../lib/core/api/handler';
import { SystemErrorCode, VistaError } from '../../lib/core/errors';
import { type VistaStore, openStore } from '../../lib/core/store/connect';
import { buildIndexes } from '../../lib/core/store/indexer';
import { loadShardResults } from '../../lib/core/store/loader';
import { defaultTaxonomy, resolveTaxonomy, taxonomyId } from '../../lib/core/tags';
import type { ClipModel } from '../../lib/core/types';
import { type SyntheticRow, writeSyntheticShardResults } from '../support/results';

const DIM = 32;
let root: string;
let store: VistaStore;
let api: ApiHandler;
const rows: SyntheticRow[] = [];
const embeddings = new Map<string, Float32Array>();
const texts: string[] = [];
let handlerDeps: () => ApiDeps;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-api-'));
  const db = path.join(root, 'db');
  const shard = await writeSyntheticShardResults(path.join(root, 'shard-00000'), { shardId: 'shard-00000', count: 400, dim: DIM, seed: 7 });
  await loadShardResults({ dbUri: db, shardResultsUri: shard.dir, shardId: shard.shardId });
  await buildIndexes({ dbUri: db });
  rows.push(...shard.rows);
  shard.rows.forEach((r, i) => embeddings.set(r.imageId, shard.embeddings[i]));
  store = await openStore(db);
  const taxonomy = defaultTaxonomy();
  const model: ClipModel = {
    id: 'fake', embedDim: DIM, logitScale: 100, provider: 'cpu',
    preprocess: { resizeShortestEdge: 224, cropSize: 224, mean: [0, 0, 0], std: [1, 1, 1], resample: 'cubic' },
    embedImages: () => Promise.reject(new Error('not used')),
    // The "text" is embedded as the image it names, so the vector ranking is known.
    embedTexts: (input) => {
      texts.push(...input);
      return Promise.resolve(input.map(() => embeddings.get(rows[3].imageId)!));
    },
    close: () => Promise.resolve(),
  };
  handlerDeps = () => ({
    store,
    taxonomy: { id: taxonomyId(taxonomy), categories: resolveTaxonomy(taxonomy) },
    textModel: () => Promise.resolve(model),
    thumbnails: { urlFor: (id: string) => `/thumb/${id}`, serve: () => Promise.resolve({ status: 200, headers: {}, body: Buffer.from('x') }) },
  });
  api = makeApiHandler(handlerDeps());
}, 60_000);

afterAll(async () => {
  store.close();
  await fs.rm(root, { recursive: true, force: true });
});

const get = (p: string, query: Record<string, string> = {}) => api({ method: 'GET', path: p, query });
const post = (p: string, body: unknown) => api({ method: 'POST', path: p, body });
type Results = { results: { image_id: string; tags: string[]; hotel_id: string | null; hotel_name: string | null; city: string | null; score: number; thumbnail_url: string }[]; next_cursor?: string };
const results = (r: ApiResponse) => r.body as Results;
const errorOf = (r: ApiResponse) => (r.body as { error: { code: string; message: string } }).error;

test('GET /v1/images/{id}: the stored row, the embedding only on request, 404 for an unknown id', async () => {
  const row = rows.find((r) => r.hotelId !== null)!;
  const r = await get(`/v1/images/${row.imageId}`);
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({
    image_id: row.imageId, seo_filename: row.seoFilename, tags: row.tags, hotel_id: row.hotelId, hotel_name: row.hotelName,
    city: row.city, source_uri: row.sourceUri, width: 1024, height: 768, format: 'jpeg', model_id: 'synthetic',
  });
  expect((r.body as { tag_scores: number[] }).tag_scores).toHaveLength(row.tags.length);
  expect(r.body).not.toHaveProperty('embedding');
  const withEmbedding = await get(`/v1/images/${row.imageId}`, { include: 'embedding' });
  expect((withEmbedding.body as { embedding: number[] }).embedding).toHaveLength(DIM);
  expect((await get('/v1/images/nope')).status).toBe(404);
  expect((await get(`/v1/images/${row.imageId}`, { include: 'everything' })).status).toBe(400);
});

test('similar: never itself, tag filter, exclude_same_hotel, by_hotel groups', async () => {
  const seed = rows.find((r) => r.hotelId !== null)!;
  const plain = results(await get(`/v1/images/${seed.imageId}/similar`, { k: '10' }));
  expect(plain.results).toHaveLength(10);
  expect(plain.results.map((r) => r.image_id)).not.toContain(seed.imageId);
  expect(plain.results[0].score).toBeGreaterThan(plain.results[9].score);

  const tagged = results(await get(`/v1/images/${seed.imageId}/similar`, { k: '5', tag: seed.tags[0] }));
  expect(tagged.results.every((r) => r.tags.includes(seed.tags[0]))).toBe(true);

  const other = results(await get(`/v1/images/${seed.imageId}/similar`, { k: '20', exclude_same_hotel: 'true' }));
  expect(other.results.every((r) => r.hotel_id !== seed.hotelId)).toBe(true);

  const grouped = (await get(`/v1/images/${seed.imageId}/similar`, { k: '3', by_hotel: 'true' })).body as { hotels: { hotel_id: string; hotel_name: string; images: unknown[] }[] };
  expect(grouped.hotels).toHaveLength(3);
  expect(grouped.hotels[0].hotel_name).toMatch(/^Hotel /);
  expect((await get('/v1/images/missing/similar')).status).toBe(404);
  expect((await get(`/v1/images/${seed.imageId}/similar`, { k: '0' })).status).toBe(400);
});

test('search by tags alone browses, pages with a cursor bound to its query, filters by hotel and city', async () => {
  const tag = rows[0].tags[0];
  const expected = rows.filter((r) => r.tags.includes(tag)).map((r) => r.imageId);
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = results(await post('/v1/search', { tags: [tag], k: 50, ...(cursor ? { cursor } : {}) }));
    expect(page.results.every((r) => r.tags.includes(tag))).toBe(true);
    seen.push(...page.results.map((r) => r.image_id));
    cursor = page.next_cursor;
  } while (cursor);
  expect(seen.sort()).toEqual([...expected].sort());

  const first = results(await post('/v1/search', { tags: [tag], k: 5 }));
  const replayed = await post('/v1/search', { tags: [rows[0].tags[1] ?? 'spa'], k: 5, cursor: first.next_cursor });
  expect(replayed.status).toBe(400);
  expect(errorOf(replayed).message).toMatch(/cursor/);

  const hotelRow = rows.find((r) => r.hotelId !== null)!;
  const byHotel = results(await post('/v1/search', { hotel_id: hotelRow.hotelId, k: 100 }));
  expect(byHotel.results.map((r) => r.image_id).sort()).toEqual(rows.filter((r) => r.hotelId === hotelRow.hotelId).map((r) => r.imageId).sort());
  const byCity = results(await post('/v1/search', { city: hotelRow.city, k: 100 }));
  expect(byCity.results.length).toBeGreaterThan(0);
  expect(byCity.results.every((r) => r.city === hotelRow.city)).toBe(true);
});

test('text search is hybrid: the vector ranking and full text over hotel name and city are fused', async () => {
  const hotelRow = rows.find((r) => r.hotelId !== null && r.imageId !== rows[3].imageId && r.hotelId !== rows[3].hotelId)!;
  const word = hotelRow.city!.split(' ')[0];
  const answer = results(await post('/v1/search', { text: word, k: 10 }));
  texts.length = 0;
  const again = results(await post('/v1/search', { text: word, k: 10 }));
  expect(texts).toEqual([word]);
  expect(again.results.map((r) => r.image_id)).toEqual(answer.results.map((r) => r.image_id));
  // The vector ranking's best (the image the fake text tower returns) and full-text matches both appear.
  const ids = answer.results.map((r) => r.image_id);
  expect(ids).toContain(rows[3].imageId);
  expect(answer.results.some((r) => r.city === hotelRow.city)).toBe(true);
  // The full-text half alone (no text tower): only matches, accents folded ("zurich" finds Zürich).
  const textOnly = makeApiHandler({ ...handlerDeps(), textModel: undefined });
  const folded = (await textOnly({ method: 'POST', path: '/v1/search', body: { text: 'zurich', k: 100 } })).body as Results;
  expect(folded.results.length).toBe(Math.min(100, rows.filter((r) => r.city === 'Zürich').length));
  expect(folded.results.every((r) => r.city === 'Zürich')).toBe(true);
  const tagWords = (await textOnly({ method: 'POST', path: '/v1/search', body: { text: 'spa', k: 100 } })).body as Results;
  expect(tagWords.results.length).toBeGreaterThan(0);
  expect(tagWords.results.every((r) => r.tags.includes('spa'))).toBe(true);
});

test('a text tower that fails (endpoint down, another model) leaves the full-text ranking, logged; other errors still fail', async () => {
  const logged: string[] = [];
  const failing = (err: Error) =>
    makeApiHandler({ ...handlerDeps(), textModel: () => Promise.resolve({ embedTexts: () => Promise.reject(err) }), log: (m, f) => m === 'text search without its vector half' && logged.push(String(f?.code)) });
  const textOnly = makeApiHandler({ ...handlerDeps(), textModel: undefined });
  const expected = results(await textOnly({ method: 'POST', path: '/v1/search', body: { text: 'zurich', k: 20 } })).results.map((r) => r.image_id);
  expect(expected.length).toBeGreaterThan(0);
  for (const code of [SystemErrorCode.MODEL_UNAVAILABLE, SystemErrorCode.STORE_MODEL_MISMATCH]) {
    const answer = await failing(new VistaError(code, 'no'))({ method: 'POST', path: '/v1/search', body: { text: 'zurich', k: 20 } });
    expect(answer.status).toBe(200);
    expect(results(answer).results.map((r) => r.image_id)).toEqual(expected);
  }
  expect(logged).toEqual([SystemErrorCode.MODEL_UNAVAILABLE, SystemErrorCode.STORE_MODEL_MISMATCH]);
  expect((await failing(new Error('bug'))({ method: 'POST', path: '/v1/search', body: { text: 'zurich' } })).status).toBe(500);
});

test('recommendations exclude the liked images and move with likes', async () => {
  const liked = [rows[10].imageId, rows[11].imageId];
  const first = results(await post('/v1/recommendations', { liked, k: 10 }));
  expect(first.results).toHaveLength(10);
  expect(first.results.some((r) => liked.includes(r.image_id))).toBe(false);
  const more = results(await post('/v1/recommendations', { liked: [...liked, first.results[5].image_id, rows[200].imageId], k: 10 }));
  expect(more.results.map((r) => r.image_id)).not.toEqual(first.results.map((r) => r.image_id));
  const disliked = results(await post('/v1/recommendations', { liked, disliked: [first.results[0].image_id], k: 10 }));
  expect(disliked.results.map((r) => r.image_id)).not.toContain(first.results[0].image_id);
  expect((await post('/v1/recommendations', { liked: ['nobody'] })).status).toBe(404);
  expect((await post('/v1/recommendations', { liked: [] })).status).toBe(400);
});

test('hotels, tags with counts, and the OpenAPI document', async () => {
  const hotelRow = rows.find((r) => r.hotelId !== null)!;
  const hotel = (await get(`/v1/hotels/${hotelRow.hotelId}`)).body as { hotel_name: string; city: string; image_count: number; tags: { tag: string; count: number }[]; cover_images: unknown[] };
  const own = rows.filter((r) => r.hotelId === hotelRow.hotelId);
  expect(hotel).toMatchObject({ hotel_name: hotelRow.hotelName, city: hotelRow.city, image_count: own.length });
  expect(hotel.tags.reduce((n, t) => n + t.count, 0)).toBe(own.reduce((n, r) => n + r.tags.length, 0));
  expect(hotel.cover_images.length).toBe(Math.min(6, own.length));
  expect((await get('/v1/hotels/none')).status).toBe(404);

  const tags = (await get('/v1/tags')).body as { categories: { labels: { name: string; count: number }[] }[]; other: { name: string; count: number }[]; images: number };
  expect(tags.images).toBe(400);
  expect(tags.categories.length).toBeGreaterThan(3);
  const poolCount = rows.filter((r) => r.tags.includes('pool')).length;
  expect([...tags.categories.flatMap((c) => c.labels), ...tags.other].find((l) => l.name === 'pool')!.count).toBe(poolCount);

  const doc = (await get('/v1/openapi.json')).body as { openapi: string; paths: Record<string, unknown> };
  expect(doc.openapi).toBe('3.1.0');
  expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/search', '/v1/recommendations', '/v1/images/{image_id}/similar', '/v1/tags']));
  expect(JSON.stringify(doc.paths['/v1/search'])).toContain('any_tags');
});

test('an unknown tag answers 400 naming the closest tags', async () => {
  const r = await post('/v1/search', { tags: ['ocean-veiw'] });
  expect(r.status).toBe(400);
  expect(errorOf(r).message).toMatch(/unknown tag "ocean-veiw" \(closest: .*ocean view/);
  const similar = await get(`/v1/images/${rows[0].imageId}/similar`, { tag: 'poool' });
  expect(errorOf(similar).message).toMatch(/closest: pool/);
});

describe('user values never become SQL', () => {
  const hostile = [
    "x' OR '1'='1",
    "'); DROP TABLE images; --",
    'a) OR (1=1',
    "' UNION SELECT * FROM images --",
    'NULL',
    "\\' OR true --",
    'tags IS NOT NULL',
  ];
  test.each(hostile)('%s as image id, hotel id, city and tag', async (value) => {
    expect((await get(`/v1/images/${encodeURIComponent(value)}`)).status).toBe(404);
    expect((await get(`/v1/images/${encodeURIComponent(value)}/similar`)).status).toBe(404);
    expect((await get(`/v1/hotels/${encodeURIComponent(value)}`)).status).toBe(404);
    expect(results(await post('/v1/search', { hotel_id: value })).results).toEqual([]);
    expect(results(await post('/v1/search', { city: value })).results).toEqual([]);
    expect(results(await post('/v1/search', { text: value, city: value })).results).toEqual([]);
    expect((await post('/v1/search', { tags: [value] })).status).toBe(400);
    expect((await post('/v1/recommendations', { liked: [value] })).status).toBe(404);
    const seed = rows.find((r) => r.hotelId !== null)!;
    expect(results(await get(`/v1/images/${seed.imageId}/similar`, { hotel_id: value })).results).toEqual([]);
  });
  test('the store is intact afterwards', async () => {
    expect(await (await store.table('images'))!.countRows()).toBe(400);
  });
});

test('unknown routes and bad bodies', async () => {
  expect((await get('/v2/tags')).status).toBe(404);
  expect((await post('/v1/images/x', {})).status).toBe(404);
  expect((await post('/v1/search', {})).status).toBe(400);
  expect((await post('/v1/search', { text: 'x', k: 1000 })).status).toBe(400);
  expect((await post('/v1/search', { text: 'x', extra: 1 })).status).toBe(400);
  expect((await get('/v1/images/%E0%A4%A')).status).toBe(400);
});
