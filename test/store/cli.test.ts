import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { command as benchStore } from '../../lib/cli/commands/bench-store';
import { command as realtimeIngest } from '../../lib/cli/commands/realtime-ingest';
import { command as search, textModelLocation } from '../../lib/cli/commands/search';
import { writeInboxRecord } from '../../lib/core/serving/realtime-inbox';
import { loadShardResults } from '../../lib/core/store/loader';
import { TINY_MODEL_DIR } from '../support/models';
import { writeSyntheticShardResults, type SyntheticShard } from '../support/results';

let root: string;
let db: string;
let shard: SyntheticShard;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-store-cli-'));
  db = path.join(root, 'db');
  shard = await writeSyntheticShardResults(path.join(root, 'shard-00001'), { shardId: 'shard-00001', count: 120, dim: 32, seed: 5 });
  await loadShardResults({ dbUri: db, shardResultsUri: shard.dir, shardId: shard.shardId });
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function captured(run: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await run(), out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    stderr.mockRestore();
  }
}

test('vista search --similar --json prints the neighbours, never the image itself', async () => {
  const target = shard.rows[3];
  const { code, out } = await captured(() => search.run({ db, similar: target.imageId, k: '4', json: true }, []));
  expect(code).toBe(0);
  const parsed = JSON.parse(out) as { results: { imageId: string; score: number }[] };
  expect(parsed.results).toHaveLength(4);
  expect(parsed.results.map((r) => r.imageId)).not.toContain(target.imageId);
});

test('vista search prints a readable table, grouped by hotel on request', async () => {
  const liked = `${shard.rows[1].imageId},${shard.rows[2].imageId}`;
  const table = await captured(() => search.run({ db, liked, k: '3' }, []));
  expect(table.code).toBe(0);
  expect(table.out.split('\n')[0]).toMatch(/score\s+image_id\s+hotel\s+tags\s+seo_filename/);
  expect(table.out.split('\n')).toHaveLength(4);
  const grouped = await captured(() => search.run({ db, similar: shard.rows[9].imageId, k: '2', 'by-hotel': true }, []));
  // Hotels by name and city, then id.
  expect(grouped.out).toMatch(/^1\. Hotel \S+ \d+, [^(]+ \(hotel-\d+\) {2}best score/m);
  expect(grouped.out).toMatch(/^2\. Hotel /m);
});

test('vista search --tag alone browses by tag; --hotel and --city filter; an unknown tag names the closest', async () => {
  const tag = shard.rows[0].tags[0];
  const browse = await captured(() => search.run({ db, tag: [tag], k: '100', json: true }, []));
  expect(browse.code).toBe(0);
  const { results } = JSON.parse(browse.out) as { results: { imageId: string; tags: string[]; city: string | null; hotelId: string | null }[] };
  expect(results.map((r) => r.imageId).sort()).toEqual(shard.rows.filter((r) => r.tags.includes(tag)).map((r) => r.imageId).sort());

  const row = shard.rows.find((r) => r.hotelId !== null)!;
  const inCity = JSON.parse((await captured(() => search.run({ db, city: row.city!, k: '100', json: true }, []))).out) as { results: { city: string }[] };
  expect(inCity.results.length).toBe(shard.rows.filter((r) => r.city === row.city).length);
  const similarInHotel = JSON.parse((await captured(() => search.run({ db, similar: shard.rows[5].imageId, hotel: row.hotelId!, k: '50', json: true }, []))).out) as { results: { hotelId: string }[] };
  expect(similarInHotel.results.every((r) => r.hotelId === row.hotelId)).toBe(true);

  // Thrown as REQUEST_INVALID: main.ts prints it and exits non-zero.
  await expect(search.run({ db, tag: ['ocean-veiw'] }, [])).rejects.toThrow(/unknown tag "ocean-veiw" \(closest: ocean view, ocean-view/);
});

test('vista search needs --db and exactly one query mode (a usage error: main prints it and exits 2)', async () => {
  const usage = { code: 'USAGE', message: 'give --db and exactly one of --similar, --text, --liked, or --tag/--hotel/--city alone to browse' };
  await expect(search.run({ db, similar: 'a', text: 'b' }, [])).rejects.toMatchObject(usage);
  await expect(search.run({ similar: 'a' }, [])).rejects.toMatchObject(usage);
});

test('vista search --text embeds the query with the model\'s text tower', async () => {
  const { code, out } = await captured(() => search.run({ db, text: 'a rooftop pool', model: TINY_MODEL_DIR, k: '3', tag: [shard.rows[0].tags[0]], json: true }, []));
  expect(code).toBe(0);
  const { results } = JSON.parse(out) as { results: { tags: string[] }[] };
  expect(results).toHaveLength(3);
  expect(results.every((r) => r.tags.includes(shard.rows[0].tags[0]))).toBe(true);
});

test('text search without a model explains how to get one', () => {
  expect(textModelLocation('/some/model')).toBe('/some/model');
  expect(() => textModelLocation(undefined, path.join(root, 'no-model'))).toThrow(/vista model generate --size tiny --out \.vista\/models\/tiny/);
});

test('vista bench store runs end to end at a small size and reports every measure', async () => {
  const { code, out } = await captured(() =>
    benchStore.run({ rows: '3000', dim: '64', queries: '12', 'f32-queries': '5', clusters: '20', repeats: '2', 'window-seconds': '0', dir: path.join(root, 'bench') }, []),
  );
  expect(code).toBe(0);
  const result = JSON.parse(out);
  expect(result.load).toMatchObject({ rows: 3000, rows_after_reloads: 3000, exactly_once: true, reload_all: { skipped: 2, of: 2 } });
  expect(result.load.rows_per_second).toBeGreaterThan(0);
  expect(result.load.windows.windows).toHaveLength(2);
  expect(result.load.windows.min).toBeLessThanOrEqual(result.load.windows.median);
  for (const path of ['indexed', 'flat']) {
    expect(result.search.throughput[path].windows).toHaveLength(2);
    expect(result.search.throughput[path].min).toBeGreaterThan(0);
  }
  expect(result.index.vector).toMatchObject({ type: 'IVF_RQ' });
  expect(result.search).toMatchObject({ queries: 12, k: 10 });
  for (const key of ['p50_ms', 'p99_ms', 'recall_at_k_vs_flat']) expect(typeof result.search[key]).toBe('number');
  expect(result.search.recall_vs_float32_brute_force.queries).toBe(5);
  expect(result.search.sweep.length).toBeGreaterThan(0);
  expect(Object.keys(result.targets)).toEqual(['load_rows_per_second', 'recall_at_10', 'p50_ms']);
});

test('vista realtime ingest loads the inbox into the store; --from-env reads the deployed function’s variables', async () => {
  const inbox = path.join(root, 'rt', 'inbox');
  const batches = path.join(root, 'rt', 'batches');
  const result = (id: string) => ({
    image_id: id, source_uri: `s3://uploads/uploads/${id}.jpg`, seo_filename: `${id}.jpg`, tags: ['pool'], tag_scores: [0.5],
    embedding: Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0)), width: 1, height: 1, format: 'jpeg', content_sha256: 'x',
    model_id: 'synthetic', taxonomy_id: 't', processed_at: new Date().toISOString(),
  });
  const old = new Date(Date.now() - 3_600_000);
  await writeInboxRecord(inbox, 'rt-1', { kind: 'result', result: result('rt-1') }, old);
  const byFlags = await captured(() => realtimeIngest.run({ inbox, batches, db }, []));
  expect(byFlags).toMatchObject({ code: 0, out: '1 batch(es): 1 rows, 0 failure records' });

  await writeInboxRecord(inbox, 'rt-2', { kind: 'result', result: result('rt-2') }, old);
  const saved = { ...process.env };
  Object.assign(process.env, { VISTA_REALTIME_INBOX_URI: inbox, VISTA_REALTIME_BATCHES_URI: batches, VISTA_DB_URI: db, VISTA_REALTIME_SETTLE_SECONDS: '60' });
  try {
    expect(await captured(() => realtimeIngest.run({ 'from-env': true }, []))).toMatchObject({ code: 0, out: '1 batch(es): 1 rows, 0 failure records' });
  } finally {
    process.env = saved;
  }
  const out = await captured(() => search.run({ db, similar: 'rt-1', k: '1', json: true }, []));
  expect(JSON.parse(out.out).results[0].imageId).toBe('rt-2');
});
