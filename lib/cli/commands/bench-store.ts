import * as path from 'node:path';
import { STORE_BENCH_DEFAULTS, runStoreBench } from '../../../bench/store';
import { type CliCommand, countOpt, intOpt, stringOpt, usageError } from '../command';

export const command: CliCommand = {
  name: 'bench store',
  summary: 'Benchmark LanceDB loading (idempotent), index build, search latency and recall@10; prints JSON',
  usage: [
    'vista bench store [--rows N] [--dim D] [--queries Q] [--concurrency C] [--repeats 3] [--window-seconds 10] [--dir DIR]',
    '',
    `  --rows N          vectors loaded and indexed (default ${STORE_BENCH_DEFAULTS.rows})`,
    `  --dim D           embedding width (default ${STORE_BENCH_DEFAULTS.dim})`,
    `  --shard-rows N    rows per synthetic shard (default ${STORE_BENCH_DEFAULTS.shardRows}, capped at rows/2)`,
    `  --clusters N      clusters of the synthetic embedding space (default ${STORE_BENCH_DEFAULTS.clusters})`,
    `  --queries Q       held-out query vectors for latency and recall (default ${STORE_BENCH_DEFAULTS.queries})`,
    `  --f32-queries Q   of those, also checked against float32 brute force (default ${STORE_BENCH_DEFAULTS.float32Queries})`,
    `  --concurrency C   shards loaded at once (default ${STORE_BENCH_DEFAULTS.concurrency})`,
    `  --repeats N       loads (each into a fresh store) and search throughput windows per path (default ${STORE_BENCH_DEFAULTS.repeats})`,
    `  --window-seconds S  each search throughput window lasts at least S seconds (default ${STORE_BENCH_DEFAULTS.windowSeconds})`,
    '  --dir DIR         work folder, wiped first (default .vista/bench/store)',
    '',
    'Loads and search throughput are repeated windows (min and median); the index is built once.',
    '',
    'Progress goes to stderr, the JSON result to stdout. The 1M default takes several minutes and ~4 GB of disk.',
  ].join('\n'),
  options: {
    rows: { type: 'string' },
    dim: { type: 'string' },
    'shard-rows': { type: 'string' },
    clusters: { type: 'string' },
    queries: { type: 'string' },
    'f32-queries': { type: 'string' },
    concurrency: { type: 'string' },
    repeats: { type: 'string' },
    'window-seconds': { type: 'string' },
    dir: { type: 'string' },
  },
  async run(values) {
    const rows = countOpt(values, 'rows', STORE_BENCH_DEFAULTS.rows);
    const queries = countOpt(values, 'queries', STORE_BENCH_DEFAULTS.queries);
    if (rows < 2) throw usageError('--rows must be at least 2');
    const result = await runStoreBench({
      ...STORE_BENCH_DEFAULTS,
      rows,
      dim: countOpt(values, 'dim', STORE_BENCH_DEFAULTS.dim),
      shardRows: Math.min(countOpt(values, 'shard-rows', STORE_BENCH_DEFAULTS.shardRows), Math.ceil(rows / 2)),
      clusters: countOpt(values, 'clusters', STORE_BENCH_DEFAULTS.clusters),
      queries,
      float32Queries: Math.min(queries, countOpt(values, 'f32-queries', STORE_BENCH_DEFAULTS.float32Queries)),
      concurrency: countOpt(values, 'concurrency', STORE_BENCH_DEFAULTS.concurrency),
      repeats: countOpt(values, 'repeats', STORE_BENCH_DEFAULTS.repeats),
      windowSeconds: intOpt(values, 'window-seconds', STORE_BENCH_DEFAULTS.windowSeconds, { min: 0 }),
      workDir: path.resolve(stringOpt(values, 'dir', '.vista/bench/store')),
      log: (m) => process.stderr.write(`[bench store] ${m}\n`),
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};
