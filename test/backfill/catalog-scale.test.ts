/**
 * One execution over catalog-scale inputs, end to end with the real worker (tiny model) and the
 * real LanceDB store: an S3 Inventory report on the local S3 server embedded in several waves,
 * a manifest prefix with duplicates across files, and a run killed mid-wave then re-run.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateDemoCatalog, type DemoCatalog } from '../../lib/core/backfill/demo/catalog';
import { writeInventory } from '../../lib/core/backfill/demo/inventory';
import { runLocalBackfill, type LocalBackfillOptions } from '../../lib/core/backfill/local-runner';
import type { RunReport } from '../../lib/core/backfill/report';
import { readRunStatus } from '../../lib/core/backfill/status';
import { readBytes, readJson, writeAtomic } from '../../lib/core/io/location';
import { openStore, TableName } from '../../lib/core/store';
import { startS3 } from '../support/s3';
import { TINY_MODEL_DIR } from '../support/models';

const IMAGES = 5;
/** Each test starts a few worker processes (node + model load each): generous on a busy machine. */
const TIMEOUT_MS = 300_000;
const REPO_ROOT = path.resolve(__dirname, '..', '..');

let dir: string;
let catalog: DemoCatalog;
let pictures: string[];
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-catalog-'));
  catalog = await generateDemoCatalog({ dir: path.join(dir, 'catalog'), count: IMAGES });
  pictures = (await fs.readFile(catalog.manifestUri, 'utf8'))
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { uri?: string }).uri ?? '')
    .filter((uri) => uri && !uri.includes(`${path.sep}broken${path.sep}`))
    .slice(0, IMAGES);
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function options(overrides: Partial<LocalBackfillOptions>): LocalBackfillOptions {
  return { workUri: path.join(dir, 'work'), dbUri: path.join(dir, 'db'), shardSize: 1, modelUri: TINY_MODEL_DIR, workers: 2, retryDelayMs: 0, ...overrides };
}

async function imageRows(dbUri: string): Promise<{ rows: number; distinctIds: number; uris: string[] }> {
  const store = await openStore(dbUri, { readConsistencySeconds: 0 });
  try {
    const table = await store.table(TableName.images);
    const rows = await table!.query().select(['image_id', 'source_uri']).toArray();
    return { rows: rows.length, distinctIds: new Set(rows.map((r) => String(r.image_id))).size, uris: rows.map((r) => String(r.source_uri)).sort() };
  } finally {
    store.close();
  }
}

describe('catalog-scale backfill', () => {
  it('backfills an S3 Inventory (CSV.gz data files, URL-encoded keys with spaces) from the local S3 server in ≥ 3 waves', async () => {
    const s3 = await startS3();
    try {
      const source = await s3.bucket('hotel-photos');
      const inventoryBucket = await s3.bucket('inventory-reports');
      const keys = pictures.map((file, i) => `lobby shots/${i % 2 ? 'Zimmer ' : ''}photo ${i}${path.extname(file)}`);
      for (const [i, key] of keys.entries()) await writeAtomic(`${source}/${key}`, await readBytes(pictures[i]));
      const files = [keys.slice(0, 2), [...keys.slice(2, 4), 'lobby shots/readme.txt'], keys.slice(4)];
      const inventory = await writeInventory({ destinationUri: inventoryBucket, sourceBucket: 'hotel-photos', files });
      expect(inventory).toMatchObject({ dataFiles: 3, keys: IMAGES + 1 });

      const dbUri = `${inventoryBucket}/db`;
      const result = await runLocalBackfill(
        options({ runId: 'inventory', inventoryUri: inventory.manifestUri, workUri: `${inventoryBucket}/work`, dbUri, maxArraySize: 2, waveConcurrency: 2 }),
      );
      expect([result.status, result.cause]).toEqual(['SUCCEEDED', undefined]);
      const report = await readJson<RunReport>(result.reportUri);
      expect(report.manifest).toMatchObject({ source: { kind: 'inventory' }, inputFiles: 3, lines: IMAGES + 1, filtered: 1, entries: IMAGES, duplicates: { count: 0 } });
      expect(report.embed.waves.map((w) => [w.wave, w.shardCount, w.status])).toEqual([
        [0, 2, 'SUCCEEDED'],
        [1, 2, 'SUCCEEDED'],
        [2, 1, 'SUCCEEDED'],
      ]);
      expect(report.totals).toMatchObject({ entries: IMAGES, succeeded: IMAGES, loadedRows: IMAGES });
      const rows = await imageRows(dbUri);
      expect(rows).toMatchObject({ rows: IMAGES, distinctIds: IMAGES });
      expect(rows.uris).toEqual(keys.map((k) => `s3://hotel-photos/${k}`).sort());

      const status = await readRunStatus(`${inventoryBucket}/work`, 'inventory');
      expect(status).toMatchObject({ phase: 'finished', shards: IMAGES, imagesDone: IMAGES });
      expect(status.waves.map((w) => [w.done, w.failed, w.running, w.pending])).toEqual([
        [2, 0, 0, 0],
        [2, 0, 0, 0],
        [1, 0, 0, 0],
      ]);
    } finally {
      await s3.stop();
    }
  }, TIMEOUT_MS);

  it('keeps each image of a manifest prefix once, whatever file repeats it, and counts the duplicates', async () => {
    const prefix = path.join(dir, 'manifests');
    await fs.mkdir(prefix);
    await fs.writeFile(path.join(prefix, 'part-1.txt'), pictures.slice(0, 4).join('\n'));
    await fs.writeFile(path.join(prefix, 'part-2.jsonl'), pictures.slice(2).map((uri) => JSON.stringify({ uri })).join('\n'));
    const dbUri = path.join(dir, 'db-prefix');
    const result = await runLocalBackfill(options({ runId: 'prefix', manifestPrefix: prefix, dbUri, shardSize: 10, partitions: 2 }));

    expect([result.status, result.cause]).toEqual(['SUCCEEDED', undefined]);
    const report = await readJson<RunReport>(result.reportUri);
    expect(report.manifest).toMatchObject({ source: { kind: 'prefix' }, inputFiles: 2, partitions: 2, lines: IMAGES + 2, entries: IMAGES, duplicates: { count: 2 } });
    expect(await imageRows(dbUri)).toMatchObject({ rows: IMAGES, distinctIds: IMAGES });
  }, TIMEOUT_MS);

  it('re-runs a backfill killed mid-wave: nothing doubled, nothing missing', async () => {
    const manifest = path.join(dir, 'killed.txt');
    await fs.writeFile(manifest, pictures.slice(0, 4).join('\n'));
    const work = path.join(dir, 'work-killed');
    const dbUri = path.join(dir, 'db-killed');
    const args = ['bin/vista.js', 'backfill', '--manifest', manifest, '--work', work, '--db', dbUri, '--model', TINY_MODEL_DIR, '--run-id', 'killed'];
    const child = spawn(process.execPath, [...args, '--shard-size', '1', '--max-array-size', '2', '--wave-concurrency', '1', '--workers', '1', '--json'], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // Killed (the whole process group: runner and workers) once the second wave's first shard is done.
    const results = path.join(work, 'runs', 'killed', 'results');
    const deadline = Date.now() + TIMEOUT_MS / 2;
    while (Date.now() < deadline && !(await fs.stat(path.join(results, 'shard-00002', 'summary.json')).catch(() => undefined))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    const before = await readRunStatus(work, 'killed');
    expect(before.phase).toBe('embedding');
    expect(before.waves[1].done).toBeGreaterThanOrEqual(1);
    expect(before.imagesDone).toBeLessThan(4);

    const rerun = await runLocalBackfill(options({ runId: 'killed', manifestUri: manifest, workUri: work, dbUri, maxArraySize: 2, waveConcurrency: 1 }));
    expect([rerun.status, rerun.cause]).toEqual(['SUCCEEDED', undefined]);
    const report = await readJson<RunReport>(rerun.reportUri);
    expect(report.shardCounts).toEqual({ total: 4, complete: 4, failed: 0 });
    expect(report.embed.waves).toHaveLength(2);
    expect(await imageRows(dbUri)).toMatchObject({ rows: 4, distinctIds: 4 });
  }, TIMEOUT_MS);
});
