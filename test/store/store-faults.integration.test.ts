/**
 * Acceptance: the backfill's load step and the real-time ingest write LanceDB on S3 through the
 * fault-injecting proxy (LanceDB's own S3 client included, conditional PUTs enforced as on AWS
 * S3) and lose nothing, double nothing and fail no good image at the default retry settings.
 * The checker is shown to catch a doubled image. Every kind alone and at more trials: `npm run chaos`.
 */
import { type BackfillStore, defaultStore } from '../../lib/core/backfill/store-port';
import { runChaos } from '../../lib/core/chaos/run-chaos';
import { loadTrial } from '../../lib/core/chaos/store-trials';
import type { FaultRule } from '../../lib/core/io/fault-s3-proxy';
import { silentLogger } from '../../lib/core/log';
import { startS3 } from '../support/s3';

// The two fault kinds that broke the store before (a cut body under the writer lease's read, a
// lost commit response that doubled an append), alone and at high rates; then every kind mixed.
const ALONE: Record<'load' | 'ingest', { name: string; faults: string; rules: FaultRule[] }[]> = {
  load: [{ name: 'load-cut-bodies-20', faults: 'cut bodies on 20% of GETs', rules: [{ fault: 'cutBody', rate: 0.2, operations: ['GetObject'] }] }],
  ingest: [],
};

describe.each(['load', 'ingest'] as const)('%s through the fault-injecting S3 proxy', (target) => {
  it('lost commit responses, cut bodies, then every fault kind mixed: nothing lost, nothing doubled, no good image failed, no hang, no crash', async () => {
    const experiments = [...ALONE[target].map((e) => ({ ...e, target })), `${target}-lost-writes-20`, `${target}-mixed`];
    const results = await runChaos({ trials: 1, experiments, logger: silentLogger, deadlineMs: 120_000 });
    const bad = results.filter((r) => r.lost + r.doubled + r.wronglyFailed + r.hangs + r.crashes > 0);
    expect(bad).toEqual([]);
    // Faults really were injected in each.
    for (const r of results) expect({ name: r.name, injected: r.faultsInjected > 0 }).toEqual({ name: r.name, injected: true });
  }, 400_000);
});

it('the checker catches an image stored twice (a shard loaded under two ids)', async () => {
  // Not a fault of the store: a load step that loads every shard a second time under another id.
  const real = defaultStore();
  const store: BackfillStore = {
    ...real,
    loadShardResults: async (r) => {
      await real.loadShardResults({ ...r, shardId: `${r.shardId}-again` });
      return real.loadShardResults(r);
    },
  };
  const s3 = await startS3({ faults: { seed: 1 } });
  try {
    const bucket = await s3.bucket('checker');
    const outcome = await loadTrial({ proxy: s3.proxy!, rules: [], baseUri: `${bucket}/t`, deadlineMs: 60_000, store });
    // Two shards of 30 rows and 2 failures each, all stored twice.
    expect(outcome).toMatchObject({ lost: 0, doubled: 64, wronglyFailed: 0, crashed: false, hung: false });
  } finally {
    await s3.stop();
  }
});
