import * as path from 'node:path';
import { runServeBench } from '../../../bench/serve';
import { BENCH_DEFAULTS } from '../../../bench/worker';
import { type CliCommand, choiceOpt, countOpt, intOpt, stringOpt } from '../command';

export const command: CliCommand = {
  name: 'bench serve',
  summary: 'Benchmark the real-time inference server (latency, throughput, micro-batching on/off); prints JSON',
  usage: [
    'vista bench serve [--requests N] [--clients C] [--max-batch N] [--max-wait-ms N] [--provider P] [--dir DIR]',
    '',
    'Uses the ViT-B/32-sized random model and photo-like 1–2 MP JPEGs (generated on first use).',
  ].join('\n'),
  options: {
    requests: { type: 'string' },
    clients: { type: 'string' },
    'max-batch': { type: 'string' },
    'max-wait-ms': { type: 'string' },
    provider: { type: 'string' },
    dir: { type: 'string' },
  },
  async run(values) {
    const result = await runServeBench({
      requests: countOpt(values, 'requests', 128),
      clients: countOpt(values, 'clients', 16),
      maxBatch: countOpt(values, 'max-batch', 16),
      maxWaitMs: intOpt(values, 'max-wait-ms', 5, { min: 0 }),
      photos: 32,
      workDir: path.resolve(stringOpt(values, 'dir', '.vista/bench/serve')),
      modelDir: BENCH_DEFAULTS.vitModelDir,
      provider: choiceOpt(values, 'provider', ['auto', 'cuda', 'webgpu', 'cpu'], 'auto'),
      log: (m) => process.stderr.write(`${m}\n`),
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};
