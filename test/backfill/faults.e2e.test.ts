/**
 * Acceptance: the whole backfill (shard planning, real worker processes, loads into LanceDB,
 * index job, report) with every file and the database on a local S3 server behind the
 * fault-injecting proxy: nothing lost, nothing doubled, no good image failed, at the default
 * retry settings. The worker processes and LanceDB's own S3 client go through the proxy too.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateDemoCatalog } from '../../lib/core/backfill/demo/catalog';
import { runLocalBackfill } from '../../lib/core/backfill/local-runner';
import type { RunReport } from '../../lib/core/backfill/report';
import { readBytes, readJson, writeAtomic } from '../../lib/core/io/location';
import { openStore, TableName } from '../../lib/core/store';
import { TINY_MODEL_DIR } from '../support/models';
import { startS3 } from '../support/s3';

const IMAGES = 16;

describe('backfill through the fault-injecting S3 proxy', () => {
  it('500s, SlowDown, resets and cut-off bodies on every kind of request: every image stored once, no good image failed', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-faults-e2e-'));
    const s3 = await startS3({ faults: { seed: 3 } });
    try {
      const catalog = await generateDemoCatalog({ dir: path.join(dir, 'catalog'), count: IMAGES });
      const bucket = await s3.bucket('vista-faults');
      // The catalog's images stay local files; the manifest, work files and database are on S3.
      await writeAtomic(`${bucket}/manifests/catalog.jsonl`, await readBytes(catalog.manifestUri));
      s3.proxy!.setRules([
        { fault: 'slowDown', rate: 0.1 },
        { fault: 'error500', rate: 0.05 },
        { fault: 'reset', rate: 0.05 },
        { fault: 'cutBody', rate: 0.05, operations: ['GetObject'] },
      ]);
      const dbUri = `${bucket}/db`;
      const result = await runLocalBackfill({
        manifestUri: `${bucket}/manifests/catalog.jsonl`,
        workUri: `${bucket}/work`,
        dbUri,
        shardSize: 10,
        modelUri: TINY_MODEL_DIR,
        workers: 2,
        retryDelayMs: 0,
        runId: 'faults-e2e',
      });
      const injected = s3.proxy!.stats();
      s3.proxy!.setRules([]);
      expect([result.status, result.cause]).toEqual(['SUCCEEDED', undefined]);
      const report = await readJson<RunReport>(result.reportUri);
      const entries = IMAGES + catalog.broken.length;
      expect(report.totals).toMatchObject({ entries, input: entries, succeeded: IMAGES, failed: catalog.broken.length, loadedRows: IMAGES });
      const store = await openStore(dbUri, { readConsistencySeconds: 0 });
      try {
        const ids = (await (await store.table(TableName.images))!.query().select(['image_id']).toArray()).map((r) => String(r.image_id));
        expect({ rows: ids.length, distinct: new Set(ids).size }).toEqual({ rows: IMAGES, distinct: IMAGES });
      } finally {
        store.close();
      }
      expect(Object.values(injected.injected).reduce((a, b) => a + (b ?? 0), 0)).toBeGreaterThan(10);
    } finally {
      await s3.stop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
