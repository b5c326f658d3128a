import * as path from 'node:path';
import { runApiBench } from '../../../bench/api';
import type { ClipModel } from '../../core/types';
import { type CliCommand, intOpt, stringOpt } from '../command';

export const command: CliCommand = {
  name: 'bench api',
  summary: 'Benchmark the query API: similar, tag browse and text search p50/p99 on local disk and on S3 with added latency, concurrent clients; prints JSON',
  usage: [
    'vista bench api [--rows N] [--dim D] [--queries Q] [--clients C] [--model DIR] [--no-s3] [--latency-ms MS] [--dir DIR]',
    '',
    '  --rows N         synthetic rows (default 1000000)',
    '  --dim D          embedding width (default 512)',
    '  --queries Q      queries per measure (default 50)',
    '  --clients C      concurrent HTTP clients (default 50)',
    '  --model DIR      text tower for text search (e.g. npx vista model generate --size vit-b-32 --out DIR); none: full text only',
    '  --no-s3          skip the local S3 server measure',
    '  --latency-ms MS  added to every S3 request by a proxy (default 20)',
    '  --dir DIR        work folder, wiped first (default .vista/bench/api)',
  ].join('\n'),
  options: {
    rows: { type: 'string' },
    dim: { type: 'string' },
    queries: { type: 'string' },
    clients: { type: 'string' },
    model: { type: 'string' },
    'no-s3': { type: 'boolean' },
    'latency-ms': { type: 'string' },
    dir: { type: 'string' },
  },
  async run(values) {
    const rows = intOpt(values, 'rows', 1_000_000)!;
    const modelDir = stringOpt(values, 'model');
    let model: ClipModel | undefined;
    if (modelDir) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { loadClipModel } = require('../../core/model') as typeof import('../../core/model');
      model = await loadClipModel(modelDir, { logger: () => undefined });
    }
    try {
      const result = await runApiBench({
        rows,
        dim: intOpt(values, 'dim', 512)!,
        shardRows: Math.min(100_000, Math.max(1, Math.ceil(rows / 2))),
        queries: intOpt(values, 'queries', 50)!,
        clients: intOpt(values, 'clients', 50)!,
        model,
        s3: values['no-s3'] !== true,
        latencyMs: intOpt(values, 'latency-ms', 20)!,
        workDir: path.resolve(stringOpt(values, 'dir', '.vista/bench/api')),
        log: (m) => process.stderr.write(`[bench api] ${m}\n`),
      });
      console.log(JSON.stringify(result, null, 2));
      return 0;
    } finally {
      await model?.close();
    }
  },
};
