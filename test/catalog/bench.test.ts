import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchTaxonomy, runCatalogBench } from '../../bench/catalog';
import { resolveTaxonomy } from '../../lib/core/tags';

test('vista bench catalog runs end to end at a tiny size and reports every figure', async () => {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-bench-catalog-'));
  try {
    expect(resolveTaxonomy(benchTaxonomy(88)).flatMap((c) => c.labels)).toHaveLength(88);
    const result = await runCatalogBench({ rows: [300], dim: 16, shardRows: 150, labels: 80, workDir, log: () => undefined });
    const [figures] = result.results;
    for (const format of ['jsonl', 'csv', 'parquet'] as const) {
      expect(figures.export![format]).toMatchObject({ format, rows: 300 });
      expect(figures.export![format]!.peakRssMiB).toBeGreaterThan(0);
      expect(figures.export![format]!.rowsPerCpuSecond).toBeGreaterThan(0);
    }
    expect(figures.retag).toMatchObject({ rows: 300 });
    expect(figures.retag!.rowsPerCpuSecond).toBeGreaterThan(0);
    expect(figures.retag!.tagsPerRow).toBeGreaterThan(0);
    expect(figures.retag!.commitSeconds).toBeGreaterThan(0);
    expect(figures.retag!.scoreSeconds).toBeGreaterThan(0);
    expect(figures.dupes).toMatchObject({ rows: 300, search: 'ann' });
    expect(figures.dupes!.duplicateRows).toBeGreaterThan(0);
    expect(result.dupesRecall!.truePairs).toBeGreaterThan(0);
    expect(result.dupesRecall!.recall).toBeGreaterThan(0);
    expect(await fs.readdir(workDir)).toEqual([]); // each size's store is removed after its run
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
  }
});
