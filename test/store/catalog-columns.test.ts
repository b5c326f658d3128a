import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Schema, tableFromIPC, tableToIPC } from 'apache-arrow';
import { readArrowFile, rowsToArrowFile } from '../../lib/core/pipeline/arrow-rows';
import { CATALOG_COLUMNS_ADDED_LATER, ResultColumn } from '../../lib/core/pipeline/schema';
import { fromEnrichResult, toEnrichResult } from '../../lib/core/serving/protocol';
import { TableName, openStore } from '../../lib/core/store/connect';
import { loadShardResults } from '../../lib/core/store/loader';
import { imagesSchema } from '../../lib/core/store/tables';
import type { EnrichedImage } from '../../lib/core/types';
import { writeSyntheticShardResults } from '../support/results';

const DIM = 16;
let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-catalog-cols-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const OLD = (name: string) => !(CATALOG_COLUMNS_ADDED_LATER as readonly string[]).includes(name);

/** Rewrites a shard's part files as the worker wrote them before hotel_name and city existed. */
async function makePartsOld(dir: string): Promise<void> {
  for (const name of (await fs.readdir(dir)).filter((n) => n.endsWith('.arrow'))) {
    const file = path.join(dir, name);
    const table = tableFromIPC(await fs.readFile(file));
    await fs.writeFile(file, tableToIPC(table.select(table.schema.fields.map((f) => f.name).filter(OLD)), 'file'));
  }
}

async function catalogRows(db: string): Promise<Map<string, { hotel_name: string | null; city: string | null }>> {
  const store = await openStore(db, { readConsistencySeconds: 0 });
  try {
    const rows = (await (await store.table(TableName.images))!.query().select(['image_id', 'hotel_name', 'city']).toArray()) as {
      image_id: string;
      hotel_name: string | null;
      city: string | null;
    }[];
    return new Map(rows.map((r) => [r.image_id, { hotel_name: r.hotel_name, city: r.city }]));
  } finally {
    store.close();
  }
}

test('worker rows carry hotel_name and city into the part file, and the real-time JSON round-trips them', () => {
  const row: EnrichedImage = {
    imageId: 'img-1', sourceUri: 's3://b/a.jpg', hotelId: 'h-1', hotelName: "Hôtel Côte d'Azur", city: 'Nice',
    seoFilename: 'a.jpg', tags: ['pool'], tagScores: [0.5], embedding: new Float32Array(DIM).fill(0.25), width: 1, height: 1,
    format: 'jpeg', contentSha256: 'x', modelId: 'm', taxonomyId: 't', processedAt: new Date(0),
  };
  const table = readArrowFile(rowsToArrowFile([row, { ...row, imageId: 'img-2', hotelName: undefined, city: undefined }], DIM));
  expect(table.getChild(ResultColumn.hotelName)!.toArray()).toEqual(["Hôtel Côte d'Azur", null]);
  expect(table.getChild(ResultColumn.city)!.toArray()).toEqual(['Nice', null]);
  const back = fromEnrichResult({ ...toEnrichResult(row, true), embedding: Array.from(row.embedding) });
  expect(back).toMatchObject({ hotelName: "Hôtel Côte d'Azur", city: 'Nice' });
});

test('a part file written before the columns loads with nulls', async () => {
  const db = path.join(root, 'db-old-parts');
  const s = await writeSyntheticShardResults(path.join(root, 'old-parts', 'shard-00001'), { shardId: 'shard-00001', count: 30, dim: DIM, seed: 1, partSize: 10 });
  await makePartsOld(s.dir);
  await loadShardResults({ dbUri: db, shardResultsUri: s.dir, shardId: s.shardId });
  const rows = await catalogRows(db);
  expect(rows.size).toBe(30);
  expect([...rows.values()].every((r) => r.hotel_name === null && r.city === null)).toBe(true);
});

test('a store written before the columns gains them (old rows null) and then takes rows that carry them', async () => {
  const db = path.join(root, 'db-old-store');
  const store = await openStore(db);
  const oldSchema = imagesSchema(DIM);
  await store.connection.createEmptyTable(TableName.images, new Schema(oldSchema.fields.filter((f) => OLD(f.name))));
  store.close();
  const old = await writeSyntheticShardResults(path.join(root, 'old-store', 'shard-00001'), { shardId: 'shard-00001', count: 20, dim: DIM, seed: 2 });
  await makePartsOld(old.dir);
  const fresh = await writeSyntheticShardResults(path.join(root, 'old-store', 'shard-00002'), { shardId: 'shard-00002', count: 20, dim: DIM, seed: 3 });

  await loadShardResults({ dbUri: db, shardResultsUri: old.dir, shardId: old.shardId });
  await loadShardResults({ dbUri: db, shardResultsUri: fresh.dir, shardId: fresh.shardId });

  const rows = await catalogRows(db);
  expect(rows.size).toBe(40);
  for (const r of old.rows) expect(rows.get(r.imageId)).toEqual({ hotel_name: null, city: null });
  const withHotel = fresh.rows.filter((r) => r.hotelId !== null);
  expect(withHotel.length).toBeGreaterThan(0);
  for (const r of withHotel) expect(rows.get(r.imageId)).toEqual({ hotel_name: r.hotelName, city: r.city });
});
