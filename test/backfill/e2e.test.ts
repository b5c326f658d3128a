/**
 * The backfill end to end on one machine: the synthesized state machine, the real worker
 * processes (`vista worker --from-env`, tiny model) on real pictures, and the real LanceDB
 * store; on local folders (then re-run and re-loaded), and with everything on a local S3 server.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateDemoCatalog, type DemoCatalog } from '../../lib/core/backfill/demo/catalog';
import { runLocalBackfill, type LocalBackfillOptions } from '../../lib/core/backfill/local-runner';
import type { RunReport } from '../../lib/core/backfill/report';
import { readBytes, readJson, writeAtomic } from '../../lib/core/io/location';
import { openStore, TableName } from '../../lib/core/store';
import { startS3 } from '../support/s3';
import { TINY_MODEL_DIR } from '../support/models';

const IMAGES = 24;

let dir: string;
let catalog: DemoCatalog;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-e2e-'));
  catalog = await generateDemoCatalog({ dir: path.join(dir, 'catalog'), count: IMAGES });
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function options(overrides: Partial<LocalBackfillOptions>): LocalBackfillOptions {
  return {
    manifestUri: catalog.manifestUri,
    workUri: path.join(dir, 'work'),
    dbUri: path.join(dir, 'db'),
    shardSize: 10,
    modelUri: TINY_MODEL_DIR,
    workers: 2,
    retryDelayMs: 0,
    ...overrides,
  };
}

async function imageRows(dbUri: string): Promise<{ rows: number; distinctIds: number }> {
  const store = await openStore(dbUri, { readConsistencySeconds: 0 });
  try {
    const table = await store.table(TableName.images);
    const ids = (await table!.query().select(['image_id']).toArray()).map((r) => String(r.image_id));
    return { rows: ids.length, distinctIds: new Set(ids).size };
  } finally {
    store.close();
  }
}

function expectCompleteRun(report: RunReport): void {
  const entries = IMAGES + catalog.broken.length;
  expect(report.ok).toBe(true);
  expect(report.manifest).toMatchObject({ entries, blankLines: 1, invalid: { count: 1 }, duplicates: { count: 1 } });
  expect(report.shardCounts).toEqual({ total: Math.ceil(entries / 10), complete: Math.ceil(entries / 10), failed: 0 });
  expect(report.totals).toMatchObject({ entries, input: entries, succeeded: IMAGES, failed: catalog.broken.length, loadedRows: IMAGES });
  const expectedCodes: Record<string, number> = {};
  for (const b of catalog.broken) expectedCodes[b.expect] = (expectedCodes[b.expect] ?? 0) + 1;
  expect(report.totals.failedByCode).toEqual(expectedCodes);
}

describe('backfill end to end with the real worker', () => {
  it('runs on local folders; a re-run, and a shard re-embedded and re-loaded, add no duplicates', async () => {
    const first = await runLocalBackfill(options({ runId: 'local-e2e' }));
    expect([first.status, first.cause]).toEqual(['SUCCEEDED', undefined]);
    const report = await readJson<RunReport>(first.reportUri);
    expectCompleteRun(report);
    expect(report.shards.every((s) => s.imagesPerSecond !== undefined && s.embedSeconds !== undefined)).toBe(true);
    expect(await imageRows(path.join(dir, 'db'))).toEqual({ rows: IMAGES, distinctIds: IMAGES });

    // The worker output of shard 1 is lost: the re-run re-embeds it (new output) and re-loads it.
    const results = path.join(dir, 'work', 'runs', 'local-e2e', 'results');
    await fs.rm(path.join(results, 'shard-00001'), { recursive: true });
    const second = await runLocalBackfill(options({ runId: 'local-e2e' }));
    expect([second.status, second.cause]).toEqual(['SUCCEEDED', undefined]);
    expectCompleteRun(await readJson<RunReport>(second.reportUri));
    const loads = await Promise.all([0, 1].map((i) => readJson<{ skipped: boolean }>(path.join(dir, 'work', 'runs', 'local-e2e', 'loads', `shard-0000${i}.json`))));
    expect(loads.map((l) => l.skipped)).toEqual([true, false]);
    expect(await imageRows(path.join(dir, 'db'))).toEqual({ rows: IMAGES, distinctIds: IMAGES });
  });

  it('runs with the manifest, work files and database on S3, indexes built by the Batch index job', async () => {
    const s3 = await startS3();
    try {
      const bucket = await s3.bucket('vista-e2e');
      await writeAtomic(`${bucket}/manifests/catalog.jsonl`, await readBytes(catalog.manifestUri));
      const dbUri = `${bucket}/db`;
      const result = await runLocalBackfill(
        options({
          runId: 's3-e2e',
          manifestUri: `${bucket}/manifests/catalog.jsonl`,
          workUri: `${bucket}/work`,
          dbUri,
          // Any table is "too big for Lambda" here: the indexes are built by the (local) Batch index job.
          definition: { indexJobMinRows: 1 },
        }),
      );

      expect([result.status, result.cause]).toEqual(['SUCCEEDED', undefined]);
      expect(result.reportUri).toBe(`${bucket}/work/runs/s3-e2e/report.json`);
      const report = await readJson<RunReport>(result.reportUri);
      expectCompleteRun(report);
      expect(report.index).toMatchObject({ handedOff: true, rows: IMAGES, batchJob: { status: 'SUCCEEDED' } });
      expect(await imageRows(dbUri)).toEqual({ rows: IMAGES, distinctIds: IMAGES });
    } finally {
      await s3.stop();
    }
  });
});
