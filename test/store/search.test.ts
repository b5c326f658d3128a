import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type VistaStore, openStore } from '../../lib/core/store/connect';
import { loadShardResults } from '../../lib/core/store/loader';
import {
  fetchEmbeddings,
  likedVector,
  searchByText,
  searchByVector,
  searchLiked,
  similarTo,
} from '../../lib/core/store/search';
import { cosineSimilarity, userVector } from '../../lib/core/store/vectors';
import type { ClipModel } from '../../lib/core/types';
import { type SyntheticRow, writeSyntheticShardResults } from '../support/results';

const DIM = 64;
let root: string;
let store: VistaStore;
const rows: SyntheticRow[] = [];
const embeddings = new Map<string, Float32Array>();

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-search-'));
  const db = path.join(root, 'db');
  for (const [i, count] of [300, 250].entries()) {
    const shardId = `shard-0000${i}`;
    const shard = await writeSyntheticShardResults(path.join(root, shardId), { shardId, count, dim: DIM, seed: 10 + i, failures: 2 });
    await loadShardResults({ dbUri: db, shardResultsUri: shard.dir, shardId });
    rows.push(...shard.rows);
    shard.rows.forEach((r, j) => embeddings.set(r.imageId, shard.embeddings[j]));
  }
  store = await openStore(db);
});

afterAll(async () => {
  store.close();
  await fs.rm(root, { recursive: true, force: true });
});

/** Exact top-k by brute force over the float32 originals. */
function exactTopK(query: Float32Array, k: number, keep: (r: SyntheticRow) => boolean = () => true): string[] {
  return rows
    .filter(keep)
    .map((r) => ({ id: r.imageId, score: cosineSimilarity(query, embeddings.get(r.imageId)!) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k)
    .map((r) => r.id);
}

function overlap(a: string[], b: string[]): number {
  return a.filter((x) => b.includes(x)).length / b.length;
}

test('similarTo finds the nearest images by cosine, best first, never the image itself', async () => {
  const target = rows[17];
  const { results } = await similarTo(store, target.imageId, { k: 10 });
  const ids = results.map((r) => r.imageId);
  expect(ids).toHaveLength(10);
  expect(ids).not.toContain(target.imageId);
  // Float16 storage may swap near-ties; the neighbourhood must be the exact one.
  expect(overlap(ids, exactTopK(embeddings.get(target.imageId)!, 11).filter((id) => id !== target.imageId).slice(0, 10))).toBeGreaterThanOrEqual(0.9);
  for (const r of results) {
    expect(r.score).toBeCloseTo(cosineSimilarity(embeddings.get(target.imageId)!, embeddings.get(r.imageId)!), 2);
    const row = rows.find((x) => x.imageId === r.imageId)!;
    expect(r).toMatchObject({ hotelId: row.hotelId, seoFilename: row.seoFilename, tags: row.tags, sourceUri: row.sourceUri });
  }
  expect(results.map((r) => r.score)).toEqual([...results.map((r) => r.score)].sort((a, b) => b - a));
});

test('similarTo an unknown image is a typed request error', async () => {
  await expect(similarTo(store, 'no-such-image')).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
});

test('tag filters keep only images carrying every requested tag', async () => {
  const wanted = rows[3].tags.slice(0, 2);
  expect(wanted).toHaveLength(2);
  const hasAll = (r: { tags: string[] }) => wanted.every((t) => r.tags.includes(t));
  const query = embeddings.get(rows[200].imageId)!;
  const { results } = await searchByVector(store, query, { k: 8, tags: wanted });
  expect(results.length).toBeGreaterThan(0);
  expect(results.every(hasAll)).toBe(true);
  const eligible = rows.filter(hasAll);
  expect(results).toHaveLength(Math.min(8, eligible.length));
  expect(overlap(results.map((r) => r.imageId), exactTopK(query, results.length, hasAll))).toBeGreaterThanOrEqual(0.85);

  const none = await searchByVector(store, query, { k: 8, tags: ['no-such-tag', wanted[0]] });
  expect(none.results).toEqual([]);
});

test('the liked vector is the normalized mean of the liked embeddings, and its results exclude them', async () => {
  const liked = [rows[5].imageId, rows[400].imageId, rows[77].imageId];
  const vector = await likedVector(store, [...liked, 'unknown-image']);
  const expected = userVector(liked.map((id) => embeddings.get(id)!));
  expect(cosineSimilarity(vector, expected)).toBeGreaterThan(0.9999);
  let norm = 0;
  for (const x of vector) norm += x * x;
  expect(Math.sqrt(norm)).toBeCloseTo(1, 5);

  const { results } = await searchLiked(store, liked, { k: 15 });
  expect(results).toHaveLength(15);
  expect(results.some((r) => liked.includes(r.imageId))).toBe(false);
  const exact = exactTopK(expected, 15 + liked.length).filter((id) => !liked.includes(id)).slice(0, 15);
  expect(overlap(results.map((r) => r.imageId), exact)).toBeGreaterThanOrEqual(0.9);
});

test('by-hotel search ranks distinct hotels by their best image, with at most perHotel images each', async () => {
  const query = embeddings.get(rows[42].imageId)!;
  const { hotels, results } = await searchByVector(store, query, { k: 5, byHotel: true, perHotel: 2 });
  expect(hotels).toBeDefined();
  expect(hotels!.length).toBe(5);
  expect(new Set(hotels!.map((h) => h.hotelId)).size).toBe(5);
  for (const hotel of hotels!) {
    expect(hotel.images.length).toBeGreaterThan(0);
    expect(hotel.images.length).toBeLessThanOrEqual(2);
    expect(hotel.images.every((img) => img.hotelId === hotel.hotelId)).toBe(true);
    expect(hotel.score).toBe(hotel.images[0].score);
  }
  expect(hotels!.map((h) => h.score)).toEqual([...hotels!.map((h) => h.score)].sort((a, b) => b - a));
  expect(results).toEqual(hotels!.flatMap((h) => h.images));
  // The best hotel is the hotel of the best image overall.
  const best = (await searchByVector(store, query, { k: 1, byHotel: false })).results[0];
  expect(hotels![0].hotelId).toBe(best.hotelId ?? hotels![0].hotelId);
});

test('by-hotel search widens its candidates when a few hotels fill the nearest ones, until k hotels', async () => {
  const distinctHotels = new Set(rows.map((r) => r.hotelId).filter((h) => h !== null)).size;
  const k = Math.min(30, distinctHotels);
  expect(k).toBeGreaterThan(10);
  const { hotels } = await searchByVector(store, embeddings.get(rows[7].imageId)!, { k, byHotel: true, perHotel: 1 });
  expect(hotels).toHaveLength(k);
});

test('k and perHotel are validated as a request error', async () => {
  const query = embeddings.get(rows[0].imageId)!;
  await expect(searchByVector(store, query, { k: 0 })).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
  await expect(searchByVector(store, query, { k: 2.5 })).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
  await expect(searchByVector(store, query, { k: 5, byHotel: true, perHotel: -1 })).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
});

test('text search embeds the text with the model and searches with that vector', async () => {
  const target = rows[123];
  const texts: string[][] = [];
  const model: ClipModel = {
    id: 'fake',
    embedDim: DIM,
    preprocess: { resizeShortestEdge: 224, cropSize: 224, mean: [0, 0, 0], std: [1, 1, 1], resample: 'cubic' },
    logitScale: 100,
    provider: 'cpu',
    embedImages: () => Promise.reject(new Error('not used')),
    embedTexts: (input) => {
      texts.push(input);
      return Promise.resolve(input.map(() => embeddings.get(target.imageId)!));
    },
    close: () => Promise.resolve(),
  };
  const { results } = await searchByText(store, model, 'a pool with an ocean view', { k: 3 });
  expect(texts).toEqual([['a pool with an ocean view']]);
  expect(results[0].imageId).toBe(target.imageId);
  expect(results[0].score).toBeGreaterThan(0.99);
  await expect(searchByText(store, model, '   ')).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
});

test('stored float16 embeddings decode to the float32 originals within float16 precision', async () => {
  const ids = [rows[0].imageId, rows[333].imageId];
  const found = await fetchEmbeddings(store, ids);
  expect([...found.keys()].sort()).toEqual([...ids].sort());
  for (const id of ids) {
    const original = embeddings.get(id)!;
    const stored = found.get(id)!;
    expect(stored).toHaveLength(DIM);
    let maxError = 0;
    for (let i = 0; i < DIM; i++) maxError = Math.max(maxError, Math.abs(stored[i] - original[i]));
    expect(maxError).toBeLessThan(1e-3);
    expect(maxError).toBeGreaterThan(0);
  }
});
