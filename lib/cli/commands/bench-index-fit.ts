import * as path from 'node:path';
import { runIndexFit } from '../../../bench/index-fit';
import { type CliCommand, intOpt, stringOpt } from '../command';

export const command: CliCommand = {
  name: 'bench index-fit',
  summary: 'Time the IVF_RQ vector index build at several table sizes, fit t = a·rows^b, project 500M; prints JSON',
  usage: [
    'vista bench index-fit [--sizes 250000,1000000,4000000] [--dim D] [--dir DIR]',
    '',
    '  --sizes LIST   table sizes (rows), comma-separated (default 250000,1000000)',
    '  --dim D        embedding width (default 512)',
    '  --dir DIR      work folder, wiped per size (default .vista/bench/index-fit)',
    '',
    'Each size is written straight into LanceDB as float16 (~1 KiB a row on disk at 512-d) and indexed',
    'with the production plan (planVectorIndex). 4M rows needs ~4 GB of disk and a long wait on 2 vCPUs.',
  ].join('\n'),
  options: { sizes: { type: 'string' }, dim: { type: 'string' }, dir: { type: 'string' } },
  async run(values) {
    const sizes = stringOpt(values, 'sizes', '250000,1000000')!.split(',').map((s) => Number(s.trim()));
    if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--sizes must be whole numbers of rows, e.g. 250000,1000000');
    const result = await runIndexFit({
      sizes,
      dim: intOpt(values, 'dim', 512)!,
      workDir: path.resolve(stringOpt(values, 'dir', '.vista/bench/index-fit')!),
      log: (m) => process.stderr.write(`[bench index-fit] ${m}\n`),
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};
