/** Smoke test of `vista bench index-fit` at tiny sizes: it runs end to end and its fit is sound. */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fitPowerLaw, runIndexFit } from '../../bench/index-fit';

test('the power-law fit recovers a known exponent', () => {
  const fit = fitPowerLaw([1e5, 1e6, 4e6].map((rows) => ({ rows, ms: 3 * rows ** 1.25 })))!;
  expect(fit.b).toBeCloseTo(1.25, 6);
  expect(fit.a).toBeCloseTo(3, 4);
  expect(fitPowerLaw([{ rows: 10, ms: 1 }])).toBeUndefined();
});

test('builds the production vector index at two tiny sizes and projects larger tables', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-index-fit-'));
  try {
    const result = await runIndexFit({ sizes: [3_000, 6_000], dim: 32, workDir: dir, log: () => {} });
    expect(result.points.map((p) => [p.rows, p.plan.type, p.plan.numPartitions])).toEqual([[3_000, 'IVF_RQ', 1], [6_000, 'IVF_RQ', 1]]);
    expect(result.points.every((p) => p.buildMs > 0 && p.writeMs > 0)).toBe(true);
    // float16 vectors: at least 2 bytes per value on disk; the index has files of its own.
    expect(result.points.every((p) => p.tableBytes >= p.rows * 32 * 2 && p.indexBytes > 0)).toBe(true);
    expect(result.fit).toBeDefined();
    expect(Object.keys(result.projectionsSeconds!)).toEqual(['1000000', '4000000', '16000000', '100000000', '500000000']);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
