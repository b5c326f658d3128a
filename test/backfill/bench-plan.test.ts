/**
 * Smoke test of `vista bench plan` at a tiny size: both input kinds are generated, planned by the
 * real tasks in child processes, and every key is accounted for (planted duplicates counted).
 */
import { runPlanBench } from '../../bench/plan';

it('bench plan runs both task profiles at two tiny sizes and accounts for every key', async () => {
  const result = await runPlanBench({
    sizes: [400, 800],
    files: 2,
    shardSize: 250,
    inputs: ['inventory', 'manifest-prefix'],
    duplicateEvery: 10,
    partitions: 2,
    parallel: 2,
    deployedConcurrency: 100,
    log: () => undefined,
  });
  const [inv400, inv800, pre400, pre800] = result.runs;
  expect(inv800).toMatchObject({ input: 'inventory', keys: 800, files: 2, shards: 4, counts: { lines: 800, entries: 800, filtered: 0, invalid: 0, duplicates: 0 } });
  expect(inv800.split.tasks).toBe(2);
  expect(inv800.dedup).toBeUndefined();
  expect(inv400.counts.entries).toBe(400);
  // Manifest prefix: the second file repeats every 10th key of the first; two partitions, two dedup tasks.
  expect(pre400.plantedDuplicates).toBe(20);
  expect(pre400.counts).toMatchObject({ lines: 400, duplicates: 20, entries: 380, invalid: 0 });
  expect(pre800.counts).toMatchObject({ lines: 800, duplicates: 40, entries: 760 });
  expect(pre800.dedup?.tasks).toBe(2);
  expect(pre800.dedup?.keysPerTask).toBe(400);
  for (const r of result.runs) expect(r.split.maxPeakRssMiB).toBeGreaterThan(0);

  expect(result.byInput.map((b) => b.input)).toEqual(['inventory', 'manifest-prefix']);
  const [inv, pre] = result.byInput;
  expect(inv.keysGrowth).toBe(2);
  expect(inv.rssGrowth).toBeGreaterThan(0);
  expect(inv.underLimit).toBe(true);
  expect(inv.projection500M.splitMinutes).toBeGreaterThan(0);
  expect(inv.projection500M).not.toHaveProperty('dedupMinutes');
  expect(pre.projection500M.dedupMinutes).toBeGreaterThan(0);
  expect(result.deployedConcurrency).toBe(100);
}, 300_000);
