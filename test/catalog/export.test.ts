import { promises as fs, openAsBlob } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Table as ArrowTable, tableFromIPC } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { command as exportCommand } from '../../lib/cli/commands/export';
import { command as exportSeoCommand } from '../../lib/cli/commands/export-seo';
import { exportImages } from '../../lib/core/catalog/export';
import { imagesTable } from '../../lib/core/catalog/scan';
import { exportSeo, imageUrl } from '../../lib/core/catalog/seo-export';
import { SITEMAP_LIMITS, sitemapWriter, xmlEscape } from '../../lib/core/catalog/sitemap';
import { openStore } from '../../lib/core/store/connect';
import { embeddingFromArrow } from '../../lib/core/store/vectors';
import type { SyntheticShard } from '../support/results';
import { captured, loadedStore } from './support';

let root: string;
let db: string;
let shards: SyntheticShard[];

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-export-'));
  ({ db, shards } = await loadedStore(root, [
    { id: 'shard-00001', count: 130, seed: 1 },
    { id: 'shard-00002', count: 70, seed: 2 },
  ]));
});
afterAll(() => fs.rm(root, { recursive: true, force: true }));

/** RFC 4180 reader: quoted fields, doubled quotes, line breaks inside quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else field += c;
  }
  return rows;
}

const allRows = () => shards.flatMap((s) => s.rows.map((r, i) => ({ ...r, embedding: s.embeddings[i], shardId: s.shardId })));

test('jsonl export round-trips every row and column, embedding included', async () => {
  const out = path.join(root, 'images.jsonl');
  const { code, out: printed } = await captured(() => exportCommand.run({ db, format: 'jsonl', out, 'with-embedding': true }, []));
  expect(code).toBe(0);
  expect(JSON.parse(printed).rows).toBe(200);
  const lines = (await fs.readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  const byId = new Map(lines.map((l) => [l.image_id, l]));
  expect(byId.size).toBe(200);
  for (const r of allRows()) {
    const line = byId.get(r.imageId);
    expect(line).toMatchObject({ source_uri: r.sourceUri, hotel_id: r.hotelId, seo_filename: r.seoFilename, tags: r.tags, shard_id: r.shardId, processed_at: '2025-01-01T00:00:00.000Z', width: 1024 });
    line.tag_scores.forEach((s: number, k: number) => expect(s).toBeCloseTo(r.tagScores[k], 5));
    expect(line.embedding).toHaveLength(32);
    line.embedding.forEach((v: number, k: number) => expect(v).toBeCloseTo(r.embedding[k], 2)); // stored as float16
  }
  expect(await fs.readdir(root)).not.toContainEqual(expect.stringMatching(/\.tmp-/));
});

test('csv export round-trips through an RFC 4180 reader, and --where filters', async () => {
  const out = path.join(root, 'images.csv');
  const { code } = await captured(() => exportCommand.run({ db, format: 'csv', out, where: "shard_id = 'shard-00002'" }, []));
  expect(code).toBe(0);
  const [header, ...rows] = parseCsv(await fs.readFile(out, 'utf8'));
  expect(header).not.toContain('embedding');
  expect(rows).toHaveLength(70);
  const col = (name: string) => header.indexOf(name);
  const expected = new Map(shards[1].rows.map((r) => [r.imageId, r]));
  for (const row of rows) {
    const r = expected.get(row[col('image_id')])!;
    expect(row[col('hotel_id')]).toBe(r.hotelId ?? '');
    expect(JSON.parse(row[col('tags')])).toEqual(r.tags);
    expect(row[col('seo_filename')]).toBe(r.seoFilename);
  }
});

/** A Parquet file read back with the writer's own library (parquet-wasm), as an apache-arrow table. */
async function readParquetFile(file: string): Promise<ArrowTable> {
  return tableFromIPC(parquet.readParquet(await fs.readFile(file)).intoIPCStream());
}

test('parquet export round-trips every column, lists and nulls included, in bounded row groups', async () => {
  const out = path.join(root, 'images.parquet');
  const { code, out: printed } = await captured(() => exportCommand.run({ db, format: 'parquet', out, 'with-embedding': true }, []));
  expect(code).toBe(0);
  expect(JSON.parse(printed).rows).toBe(200);
  const table = await readParquetFile(out);
  expect(table.numRows).toBe(200);
  const rows = new Map(table.toArray().map((row) => [row.image_id as string, row.toJSON()]));
  for (const r of allRows()) {
    const row = rows.get(r.imageId)!;
    expect(row).toBeDefined();
    expect(row).toMatchObject({ source_uri: r.sourceUri, hotel_id: r.hotelId, hotel_name: r.hotelName, city: r.city, seo_filename: r.seoFilename, shard_id: r.shardId, width: 1024, height: 768, format: 'jpeg', model_id: 'synthetic' });
    expect(row.processed_at).toBe(Date.parse('2025-01-01T00:00:00.000Z'));
    expect([...row.tags]).toEqual(r.tags);
    [...row.tag_scores].forEach((s: number, k: number) => expect(s).toBeCloseTo(r.tagScores[k], 5));
    const embedding = embeddingFromArrow(row.embedding);
    expect(embedding).toHaveLength(32);
    embedding.forEach((v, k) => expect(v).toBeCloseTo(r.embedding[k], 2)); // stored as float16
  }
  expect(allRows().some((r) => r.hotelId === null)).toBe(true); // nulls were exercised
  expect(await fs.readdir(root)).not.toContainEqual(expect.stringMatching(/\.tmp-/));

  const store = await openStore(db);
  try {
    const small = path.join(root, 'small-groups.parquet');
    const report = await exportImages(await imagesTable(store), { format: 'parquet', out: small, rowGroupRows: 64, batchRows: 50, columns: ['image_id', 'tags'] });
    expect(report.rows).toBe(200);
    const file = await parquet.ParquetFile.fromFile(await openAsBlob(small));
    expect(file.metadata().numRowGroups()).toBe(4); // 64 + 64 + 64 + 8
    const back = await readParquetFile(small);
    expect(back.schema.fields.map((f) => f.name)).toEqual(['image_id', 'tags']);
    expect(back.toArray().map((row) => [row.image_id, [...row.tags]]).sort()).toEqual(allRows().map((r) => [r.imageId, r.tags]).sort());
  } finally {
    store.close();
  }
});

test('an export that matches no row is a valid file with the header or schema', async () => {
  const where = "image_id = 'nope'";
  const store = await openStore(db);
  try {
    const table = await imagesTable(store);
    const pq = path.join(root, 'empty.parquet');
    expect((await exportImages(table, { format: 'parquet', out: pq, where })).rows).toBe(0);
    const back = await readParquetFile(pq);
    expect(back.numRows).toBe(0);
    expect(back.schema.fields.map((f) => f.name)).toContain('tags');
    const csv = path.join(root, 'empty.csv');
    await exportImages(table, { format: 'csv', out: csv, where, columns: ['image_id', 'tags'] });
    expect(await fs.readFile(csv, 'utf8')).toBe('image_id,tags\n');
    const jsonl = path.join(root, 'empty.jsonl');
    await exportImages(table, { format: 'jsonl', out: jsonl, where });
    expect(await fs.readFile(jsonl, 'utf8')).toBe('');
  } finally {
    store.close();
  }
});

test('export refuses an unknown format and an unknown column by name', async () => {
  const bad = await captured(() => exportCommand.run({ db, format: 'xlsx', out: path.join(root, 'x.xlsx') }, []));
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/parquet\|csv\|jsonl/);
  const store = await openStore(db);
  try {
    await expect(exportImages(await imagesTable(store), { format: 'csv', out: path.join(root, 'bad.csv'), columns: ['nope'] })).rejects.toThrow(/no such column/);
  } finally {
    store.close();
  }
});

test('xml escaping covers the five special characters', () => {
  expect(xmlEscape(`a&b<c>d"e'f`)).toBe('a&amp;b&lt;c&gt;d&quot;e&apos;f');
  expect(imageUrl('https://cdn.example.com/img/', 'a b&c.jpg')).toBe('https://cdn.example.com/img/a%20b%26c.jpg');
});

/** Each <url> entry: page and image locs, with text checked to hold no raw markup. */
function readSitemap(xml: string): { page: string; images: string[] }[] {
  expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">')).toBe(true);
  expect(xml.endsWith('</urlset>\n')).toBe(true);
  const unescape = (s: string) => {
    expect(s).not.toMatch(/[<>"']|&(?!(amp|lt|gt|quot|apos);)/);
    return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  };
  return [...xml.matchAll(/<url><loc>([^<]*)<\/loc>(.*?)<\/url>/g)].map((m) => ({
    page: unescape(m[1]),
    images: [...m[2].matchAll(/<image:image><image:loc>([^<]*)<\/image:loc><\/image:image>/g)].map((i) => unescape(i[1])),
  }));
}

test('sitemap files obey the URL count, byte size and images-per-page limits, with an index', async () => {
  const dir = path.join(root, 'sitemaps-limits');
  const limits = { urlsPerFile: 5, bytesPerFile: 1_200, imagesPerUrl: 3 };
  const writer = sitemapWriter({ dir, publicUrl: 'https://example.com/maps?a=1&b=2', limits });
  const added: [string, string][] = [];
  for (let i = 0; i < 40; i++) {
    const page = `https://example.com/hotels/${Math.floor(i / 4)}?x=<"'&>`;
    const image = `https://cdn.example.com/${i}&amp.jpg`;
    added.push([page, image]);
    await writer.add(page, image);
  }
  const report = await writer.finish();
  expect(report.images).toBe(40);
  const seen: [string, string][] = [];
  for (const name of report.files) {
    const xml = await fs.readFile(path.join(dir, name), 'utf8');
    expect(Buffer.byteLength(xml)).toBeLessThanOrEqual(limits.bytesPerFile);
    const entries = readSitemap(xml);
    expect(entries.length).toBeLessThanOrEqual(limits.urlsPerFile);
    for (const e of entries) {
      expect(e.images.length).toBeLessThanOrEqual(limits.imagesPerUrl);
      for (const image of e.images) seen.push([e.page, image]);
    }
  }
  expect(seen).toEqual(added);
  const index = await fs.readFile(path.join(dir, 'sitemap-index.xml'), 'utf8');
  const locs = [...index.matchAll(/<sitemap><loc>([^<]*)<\/loc><\/sitemap>/g)].map((m) => m[1]);
  expect(locs).toEqual(report.files.map((f) => `https://example.com/maps?a=1&amp;b=2/${f}`));
  expect(SITEMAP_LIMITS).toEqual({ urlsPerFile: 50_000, bytesPerFile: 52_428_800, imagesPerUrl: 1_000 });
});

test('vista export seo writes the rename map and sitemaps for the whole store', async () => {
  const out = path.join(root, 'seo');
  const { code } = await captured(() => exportSeoCommand.run({ db, 'base-url': 'https://img.example.com/', out }, []));
  expect(code).toBe(0);
  const [header, ...rows] = parseCsv(await fs.readFile(path.join(out, 'rename-map.csv'), 'utf8'));
  expect(header).toEqual(['source_uri', 'image_id', 'hotel_id', 'seo_filename']);
  const expected = allRows().map((r) => [r.sourceUri, r.imageId, r.hotelId ?? '', r.seoFilename]);
  expect(rows.sort()).toEqual(expected.sort());

  const store = await openStore(db);
  let report;
  try {
    report = await exportSeo(await imagesTable(store), { baseUrl: 'https://img.example.com', outDir: path.join(root, 'seo-small'), limits: { urlsPerFile: 20 } });
  } finally {
    store.close();
  }
  const withHotel = allRows().filter((r) => r.hotelId !== null);
  expect(report.withoutPage).toBe(200 - withHotel.length);
  expect(report.sitemaps.images).toBe(withHotel.length);
  expect(report.sitemaps.files.length).toBe(Math.ceil(report.sitemaps.urls / 20));
  const images: string[] = [];
  for (const name of report.sitemaps.files) {
    for (const e of readSitemap(await fs.readFile(path.join(root, 'seo-small', 'sitemaps', name), 'utf8'))) {
      expect(e.page).toMatch(/^https:\/\/img\.example\.com\/hotels\/hotel-\d+$/);
      images.push(...e.images);
    }
  }
  expect(images.sort()).toEqual(withHotel.map((r) => `https://img.example.com/${r.seoFilename}`).sort());
  expect((await captured(() => exportSeoCommand.run({ db, 'base-url': 'img.example.com', out }, []))).code).toBe(2);
});
