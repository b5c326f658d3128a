import * as os from 'node:os';
import { runPlanBench, runSplitTask } from '../../../bench/plan';
import { type CliCommand, intOpt, stringOpt } from '../command';

export const command: CliCommand = {
  name: 'bench plan',
  summary: 'Benchmark backfill planning over a generated S3 Inventory (keys/s and peak RSS per task, 500M projection); prints JSON',
  usage: [
    'vista bench plan [--keys N] [--files F] [--shard-size N] [--parallel P] [--deployed-concurrency C]',
    '',
    '  --keys N         inventory keys (default 20000000), generated into a temporary folder and deleted after',
    '  --files F        CSV.gz data files (default 20)',
    '  --shard-size N   entries per shard (default 200000)',
    '  --parallel P     split tasks at once on this machine (default: cores)',
    '  --deployed-concurrency C  the planning Map concurrency of the stack, for the projection (default 100)',
  ].join('\n'),
  options: {
    keys: { type: 'string' },
    files: { type: 'string' },
    'shard-size': { type: 'string' },
    parallel: { type: 'string' },
    'deployed-concurrency': { type: 'string' },
    'task-split': { type: 'string' },
    work: { type: 'string' },
    'run-id': { type: 'string' },
  },
  async run(values) {
    const task = intOpt(values, 'task-split');
    if (task !== undefined) {
      await runSplitTask(stringOpt(values, 'work')!, stringOpt(values, 'run-id')!, task);
      return 0;
    }
    const result = await runPlanBench({
      keys: intOpt(values, 'keys', 20_000_000)!,
      files: intOpt(values, 'files', 20)!,
      shardSize: intOpt(values, 'shard-size', 200_000)!,
      parallel: intOpt(values, 'parallel', os.availableParallelism())!,
      deployedConcurrency: intOpt(values, 'deployed-concurrency', 100)!,
      log: (m) => process.stderr.write(`${m}\n`),
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};
