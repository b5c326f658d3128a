/** Smoke test of `vista bench plan` at a tiny size: it generates, plans and reports, and counts every key. */
import { runPlanBench } from '../../bench/plan';

it('bench plan runs at a tiny size and accounts for every key', async () => {
  const result = await runPlanBench({ keys: 3_000, files: 3, shardSize: 1_000, parallel: 2, deployedConcurrency: 100, log: () => undefined });
  expect(result).toMatchObject({ keys: 3_000, files: 3, shards: 3, counts: { lines: 3_000, entries: 3_000, filtered: 0, invalid: 0 } });
  expect(result.perTask.tasks).toHaveLength(3);
  expect(result.perTask.maxPeakRssMiB).toBeGreaterThan(0);
  expect(result.projection500M.splitMinutes).toBeGreaterThan(0);
}, 120_000);
