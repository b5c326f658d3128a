import * as path from 'node:path';
import { runIngestBench } from '../../../bench/ingest';
import { type CliCommand, countOpt, stringOpt } from '../command';

export const command: CliCommand = {
  name: 'bench ingest',
  summary: 'Benchmark the real-time ingest (inbox records → LanceDB, re-uploads superseding); prints JSON',
  usage: [
    'vista bench ingest [--records N] [--dim D] [--dir DIR] [--repeats 3]',
    '',
    '  --records N   inbox records of the first round (default 10000: one batch); a tenth are re-uploaded in round 2',
    '  --dim D       embedding width (default 512)',
    '  --dir DIR     work folder, wiped first (default .vista/bench/ingest)',
    '  --repeats N   whole runs, each on a fresh store, for min and median (default 3)',
  ].join('\n'),
  options: { records: { type: 'string' }, dim: { type: 'string' }, dir: { type: 'string' }, repeats: { type: 'string' } },
  async run(values) {
    const result = await runIngestBench({
      records: countOpt(values, 'records', 10_000),
      dim: countOpt(values, 'dim', 512),
      repeats: countOpt(values, 'repeats', 3),
      workDir: path.resolve(stringOpt(values, 'dir', '.vista/bench/ingest')),
      log: (m) => process.stderr.write(`${m}\n`),
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};
