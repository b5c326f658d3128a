/**
 * The backfill end to end on one machine: the synthesized state machine, the real worker
 * processes (`vista worker --from-env`, tiny model) on real pictures, and the store; once on
 * local folders and once with work files and database on a local S3 server.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateDemoCatalog, type DemoCatalog } from '../../lib/core/backfill/demo/catalog';
import { runLocalBackfill, type LocalBackfillOptions } from '../../lib/core/backfill/local-runner';
import type { RunReport } from '../../lib/core/backfill/report';
import { readBytes, readJson, writeAtomic } from '../../lib/core/io/location';
import { startS3 } from '../support/s3';
import { TINY_MODEL_DIR } from '../support/models';
import { makeFakeStore } from './support/fake-store';

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
  it('runs on local folders', async () => {
    const store = makeFakeStore();
    const result = await runLocalBackfill(options({ runId: 'local-e2e', store }));

    expect(result).toMatchObject({ status: 'SUCCEEDED', report: { ok: true } });
    const report = await readJson<RunReport>(result.reportUri);
    expectCompleteRun(report);
    expect(report.shards.every((s) => s.imagesPerSecond !== undefined && s.embedSeconds !== undefined)).toBe(true);
  });

  it('runs with the manifest, work files and database on S3', async () => {
    const s3 = await startS3();
    try {
      const bucket = await s3.bucket('vista-e2e');
      await writeAtomic(`${bucket}/manifests/catalog.jsonl`, await readBytes(catalog.manifestUri));
      const store = makeFakeStore();
      const result = await runLocalBackfill(
        options({ runId: 's3-e2e', manifestUri: `${bucket}/manifests/catalog.jsonl`, workUri: `${bucket}/work`, dbUri: `${bucket}/db`, store }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.reportUri).toBe(`${bucket}/work/runs/s3-e2e/report.json`);
      expectCompleteRun(await readJson<RunReport>(result.reportUri));
      expect(store.loads[0].shardResultsUri).toMatch(/^s3:\/\/vista-e2e\/work\/runs\/s3-e2e\/results\/shard-\d{5}$/);
    } finally {
      await s3.stop();
    }
  });
});
