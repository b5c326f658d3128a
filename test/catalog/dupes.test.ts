import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { plantExactCopy, plantNearCopy } from '../../bench/dupes-data';
import { makeEmbeddingSpace, makeGaussian, makeRandom, writeShardFolder, type SyntheticRow } from '../../bench/store-data';
import { findDupes, pickRepresentative, type DupesReport } from '../../lib/core/catalog/dupes';
import { DUPES_CSV_HEADER } from '../../lib/core/catalog/dupes-output';
import { command as dupesCommand } from '../../lib/cli/commands/dupes';
import { openStore } from '../../lib/core/store/connect';
import { buildIndexes } from '../../lib/core/store/indexer';
import { loadShardResults } from '../../lib/core/store/loader';
import { captured } from './support';

const DIM = 64;
const ROWS = 300;

/**
 * Planted in each of two shards (ids `<shard>-img-<i>`), ground truth for every test:
 *  A exact, one hotel: 11 → 10 (10 is smaller: 11 must be the representative although its id is later)
 *  B exact, two hotels: 21 → 20 (20 moved to another hotel)
 *  C near, one hotel: 30 → 31, 32
 *  D near, two hotels: 41 → 40 (40 moved to another hotel)
 *  E mixed, two hotels: 51 → 50 exact, 50 → 52 near (52 moved), chained in one group
 * and across the shards F: shard-a row 60 → shard-b row 60 near (other hotel).
 */
function plant(shardId: string, embeddings: Float32Array, rows: SyntheticRow[], gauss: () => number, crossSource: Float32Array | undefined) {
  const moveHotel = (i: number) => (rows[i].hotelId = `${rows[i].hotelId}-elsewhere`);
  const sameHotel = (i: number, as: number) => (rows[i].hotelId = rows[as].hotelId);
  plantExactCopy(embeddings, rows, DIM, 11, 10, `${shardId}-sha-A`);
  sameHotel(10, 11);
  rows[10].width = 640;
  rows[10].height = 480;
  plantExactCopy(embeddings, rows, DIM, 21, 20, `${shardId}-sha-B`);
  moveHotel(20);
  plantNearCopy(embeddings, DIM, 30, 31, gauss);
  plantNearCopy(embeddings, DIM, 30, 32, gauss);
  sameHotel(31, 30);
  sameHotel(32, 30);
  plantNearCopy(embeddings, DIM, 41, 40, gauss);
  moveHotel(40);
  plantExactCopy(embeddings, rows, DIM, 51, 50, `${shardId}-sha-E`);
  sameHotel(50, 51);
  plantNearCopy(embeddings, DIM, 50, 52, gauss);
  moveHotel(52);
  if (crossSource) {
    embeddings.set(crossSource, 60 * DIM);
    plantNearCopy(embeddings, DIM, 60, 60, gauss);
    rows[60].hotelId = 'hotel-cross';
  }
}

const id = (shard: string, i: number) => `${shard}-img-${i}`;
const expected = (s: string) => ({
  A: { ids: [id(s, 10), id(s, 11)], rep: id(s, 11), kind: 'exact', scope: 'hotel' },
  B: { ids: [id(s, 20), id(s, 21)], rep: id(s, 20), kind: 'exact', scope: 'catalog' },
  C: { ids: [id(s, 30), id(s, 31), id(s, 32)], rep: id(s, 30), kind: 'near', scope: 'hotel' },
  D: { ids: [id(s, 40), id(s, 41)], rep: id(s, 40), kind: 'near', scope: 'catalog' },
  E: { ids: [id(s, 50), id(s, 51), id(s, 52)], rep: id(s, 50), kind: 'mixed', scope: 'catalog' },
});
const PLANTED = [
  ...Object.values(expected('shard-a')),
  ...Object.values(expected('shard-b')),
  { ids: [id('shard-a', 60), id('shard-b', 60)], rep: id('shard-a', 60), kind: 'near', scope: 'catalog' },
];

function summarize(report: DupesReport) {
  return report.groups
    .map((g) => ({ ids: g.members.map((m) => m.imageId).sort(), rep: g.representative, kind: g.kind, scope: g.scope }))
    .sort((x, y) => (x.ids[0] < y.ids[0] ? -1 : 1));
}
const sortedPlanted = (groups: typeof PLANTED) => [...groups].map((g) => ({ ...g, ids: [...g.ids].sort() })).sort((x, y) => (x.ids[0] < y.ids[0] ? -1 : 1));

let root: string;
let db: string;
let allEmbeddings: Float32Array[];

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-dupes-'));
  db = path.join(root, 'db');
  const space = makeEmbeddingSpace({ dim: DIM, clusters: 16 });
  const gauss = makeGaussian(makeRandom(99));
  let crossSource: Float32Array | undefined;
  allEmbeddings = [];
  for (const [s, shardId] of ['shard-a', 'shard-b'].entries()) {
    const dir = path.join(root, 'results', shardId);
    await writeShardFolder(dir, {
      shardId, count: ROWS, dim: DIM, seed: s + 1, space, partSize: ROWS,
      onPart: (embeddings, rows) => {
        plant(shardId, embeddings, rows, gauss, crossSource);
        crossSource = embeddings.slice(60 * DIM, 61 * DIM);
        for (let i = 0; i < rows.length; i++) allEmbeddings.push(embeddings.slice(i * DIM, (i + 1) * DIM));
      },
    });
    await loadShardResults({ dbUri: db, shardResultsUri: dir, shardId });
  }
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

test('premise: apart from the planted rows no pair of the synthetic store reaches the threshold', () => {
  let natural = 0;
  let planted = 0;
  for (let a = 0; a < allEmbeddings.length; a++) {
    for (let b = a + 1; b < allEmbeddings.length; b++) {
      let dot = 0;
      for (let j = 0; j < DIM; j++) dot += allEmbeddings[a][j] * allEmbeddings[b][j];
      if (dot < 0.97) continue;
      const isPlanted = [a % ROWS, b % ROWS].every((i) => i >= 10 && i <= 60 && i % 10 <= 2);
      if (isPlanted) planted++;
      else natural++;
    }
  }
  expect(natural).toBe(0);
  // A 1 + B 1 + C 3 + D 1 + E 3, per shard, and F.
  expect(planted).toBe(2 * 9 + 1);
});

test('without a vector index a small store is searched exhaustively, with a warning, and every planted group is found with its representative', async () => {
  const store = await openStore(db, { readConsistencySeconds: 0 });
  try {
    const warnings: string[] = [];
    const report = await findDupes(store, { onWarning: (m) => warnings.push(m) });
    expect(warnings.join()).toMatch(/no vector index/);
    expect(report.search).toBe('exact');
    expect(report.rows).toBe(2 * ROWS);
    expect(summarize(report)).toEqual(sortedPlanted(PLANTED));
    expect(report.exactPairs).toBe(2 * 3);
    expect(report.duplicateRows).toBe(PLANTED.reduce((n, g) => n + g.ids.length - 1, 0));
    // The representative leads its members.
    for (const g of report.groups) expect(g.members[0].imageId).toBe(g.representative);
  } finally {
    store.close();
  }
});

test('scope hotel keeps pairs inside one hotel, scope catalog pairs across hotels', async () => {
  const store = await openStore(db, { readConsistencySeconds: 0 });
  try {
    const hotel = summarize(await findDupes(store, { scope: 'hotel', onWarning: () => undefined }));
    const a = expected('shard-a');
    const b = expected('shard-b');
    // E's exact pair (50, 51) is inside one hotel; its near link to 52 crosses hotels.
    const inside = [a.A, a.C, b.A, b.C, ...['shard-a', 'shard-b'].map((s) => ({ ids: [id(s, 50), id(s, 51)], rep: id(s, 50), kind: 'exact', scope: 'hotel' }))];
    expect(hotel).toEqual(sortedPlanted(inside));

    const catalog = summarize(await findDupes(store, { scope: 'catalog', onWarning: () => undefined }));
    // 50 and 51 share a hotel, but both reach 52 across hotels: one group.
    expect(catalog).toEqual(sortedPlanted([a.B, a.D, a.E, b.B, b.D, b.E, PLANTED[PLANTED.length - 1]]));
  } finally {
    store.close();
  }
});

test('with a vector index the ANN search finds the same groups', async () => {
  await buildIndexes({ dbUri: db, minRowsForVectorIndex: 1, vectorIndex: { numPartitions: 2 } });
  const store = await openStore(db, { readConsistencySeconds: 0 });
  try {
    const report = await findDupes(store, { nprobes: 2 });
    expect(report.search).toBe('ann');
    expect(summarize(report)).toEqual(sortedPlanted(PLANTED));
  } finally {
    store.close();
  }
});

test('a store too large for the exhaustive fallback and without an index is a typed error naming the fix', async () => {
  const bare = path.join(root, 'bare');
  await fs.cp(db, bare, { recursive: true });
  const store = await openStore(bare, { readConsistencySeconds: 0 });
  try {
    const images = (await store.table('images'))!;
    for (const index of await images.listIndices()) if (index.columns[0] === 'embedding') await images.dropIndex(index.name);
    await expect(findDupes(store, { exactFallbackMaxRows: 100 })).rejects.toMatchObject({ code: 'STORE_FAILED', message: expect.stringMatching(/no vector index.*vista backfill index/) });
    await expect(findDupes(store, { threshold: 1.5 })).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
  } finally {
    store.close();
  }
});

test('the representative is the largest image, ties to the smallest id', () => {
  expect(pickRepresentative([{ imageId: 'b', width: 10, height: 10 }, { imageId: 'a', width: 10, height: 10 }])).toBe('a');
  expect(pickRepresentative([{ imageId: 'a', width: 10, height: 10 }, { imageId: 'b', width: 20, height: 10 }])).toBe('b');
});

test('vista dupes writes CSV and JSON files; bad options are usage errors', async () => {
  const csvOut = path.join(root, 'dupes.csv');
  const csv = await captured(() => dupesCommand.run({ db, format: 'csv', out: csvOut }, []));
  expect(csv.code).toBe(0);
  const lines = (await fs.readFile(csvOut, 'utf8')).trim().split('\n');
  expect(lines[0]).toBe(DUPES_CSV_HEADER.join(','));
  expect(lines.length - 1).toBe(PLANTED.reduce((n, g) => n + g.ids.length, 0));
  expect(lines.filter((l) => l.split(',')[4] === 'true')).toHaveLength(PLANTED.length);

  const jsonOut = path.join(root, 'dupes.json');
  expect((await captured(() => dupesCommand.run({ db, out: jsonOut, threshold: '0.97' }, []))).code).toBe(0);
  const parsed = JSON.parse(await fs.readFile(jsonOut, 'utf8'));
  expect(parsed.summary.rows).toBe(2 * ROWS);
  expect(parsed.groups).toHaveLength(PLANTED.length);

  expect((await captured(() => dupesCommand.run({ db, scope: 'city' }, []))).code).toBe(2);
  expect((await captured(() => dupesCommand.run({ db, threshold: 'x' }, []))).code).toBe(2);
  expect((await captured(() => dupesCommand.run({}, []))).code).toBe(2);
});
