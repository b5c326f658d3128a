import * as os from 'node:os';
import { runPlanBench, runPlanTask, type PlanBenchInput, type PlanTaskKind } from '../../../bench/plan';
import { DEFAULT_PLAN_CONCURRENCY, DEFAULT_SHARD_SIZE } from '../../core/backfill/config';
import { type CliCommand, countOpt, intOpt, stringOpt, usageError } from '../command';

const INPUTS: readonly PlanBenchInput[] = ['inventory', 'manifest-prefix'];

export const command: CliCommand = {
  name: 'bench plan',
  summary: 'Benchmark backfill planning over generated inputs (keys/s and peak RSS per task at each size, 500M projection); prints JSON',
  usage: [
    'vista bench plan [--sizes N,N…] [--files F] [--inputs inventory,manifest-prefix] [--shard-size N] [--parallel P] [--deployed-concurrency C]',
    '',
    '  --sizes N,N…     keys per run, smallest first (default 2000000,20000000): RSS must stay flat between them',
    '  --files F        gzip input files per run (default 20)',
    '  --inputs K,K…    inventory (S3 Inventory CSV.gz: split tasks only) and/or manifest-prefix',
    '                   (JSONL.gz with 1% duplicates across files: split and dedup tasks) (default both)',
    `  --shard-size N   entries per shard (default ${DEFAULT_SHARD_SIZE}, the deployed default)`,
    '  --parallel P     tasks at once on this machine (default: cores)',
    `  --deployed-concurrency C  the planning Map concurrency, for the projection (default ${DEFAULT_PLAN_CONCURRENCY}, the deployed one)`,
    '',
    'Inputs are generated into a temporary folder and deleted after each run; a 20M-key manifest-prefix run needs ~10 GB of disk.',
  ].join('\n'),
  options: {
    sizes: { type: 'string' },
    files: { type: 'string' },
    inputs: { type: 'string' },
    'shard-size': { type: 'string' },
    parallel: { type: 'string' },
    'deployed-concurrency': { type: 'string' },
    task: { type: 'string' },
    item: { type: 'string' },
    work: { type: 'string' },
    'run-id': { type: 'string' },
  },
  async run(values) {
    const task = stringOpt(values, 'task');
    if (task !== undefined) {
      if (task !== 'split' && task !== 'dedup') throw usageError(`--task is split or dedup, not ${task}`);
      await runPlanTask(task as PlanTaskKind, stringOpt(values, 'work')!, stringOpt(values, 'run-id')!, intOpt(values, 'item', 0, { min: 0 }));
      return 0;
    }
    const sizes = (stringOpt(values, 'sizes') ?? '2000000,20000000').split(',').map((s) => Number(s.trim()));
    if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw usageError('--sizes takes positive integers, e.g. 2000000,20000000');
    const inputs = (stringOpt(values, 'inputs') ?? INPUTS.join(',')).split(',').map((s) => s.trim());
    const unknown = inputs.filter((i) => !INPUTS.includes(i as PlanBenchInput));
    if (unknown.length > 0) throw usageError(`--inputs takes ${INPUTS.join(', ')}; not ${unknown.join(', ')}`);
    const result = await runPlanBench({
      sizes: [...sizes].sort((a, b) => a - b),
      files: countOpt(values, 'files', 20),
      inputs: inputs as PlanBenchInput[],
      shardSize: countOpt(values, 'shard-size', DEFAULT_SHARD_SIZE),
      parallel: countOpt(values, 'parallel', os.availableParallelism()),
      deployedConcurrency: countOpt(values, 'deployed-concurrency', DEFAULT_PLAN_CONCURRENCY),
      log: (m) => process.stderr.write(`${m}\n`),
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};
