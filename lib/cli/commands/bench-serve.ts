import * as path from 'node:path';
import { runServeBench } from '../../../bench/serve';
import { BENCH_DEFAULTS } from '../../../bench/worker';
import { type CliCommand, choiceOpt, countOpt, intOpt, stringOpt } from '../command';

export const command: CliCommand = {
  name: 'bench serve',
  summary: 'Benchmark the real-time inference server (latency, throughput, micro-batching on/off); prints JSON',
  usage: [
    'vista bench serve [--requests N] [--clients C] [--max-batch N] [--max-wait-ms N] [--provider P] [--dir DIR]',
    '                  [--window-seconds 10] [--repeats 3] [--model DIR] [--photos 32]',
    '',
    'Uses the ViT-B/32-sized random model (or --model) and photo-like 1–2 MP JPEGs (generated on first use).',
    'Each phase runs in windows of ≥ --window-seconds (and ≥ --requests requests), --repeats times, phases alternating: min and median.',
  ].join('\n'),
  options: {
    requests: { type: 'string' },
    clients: { type: 'string' },
    'max-batch': { type: 'string' },
    'max-wait-ms': { type: 'string' },
    provider: { type: 'string' },
    dir: { type: 'string' },
    'window-seconds': { type: 'string' },
    repeats: { type: 'string' },
    model: { type: 'string' },
    photos: { type: 'string' },
  },
  async run(values) {
    const result = await runServeBench({
      requests: countOpt(values, 'requests', 128),
      clients: countOpt(values, 'clients', 16),
      maxBatch: countOpt(values, 'max-batch', 16),
      maxWaitMs: intOpt(values, 'max-wait-ms', 5, { min: 0 }),
      photos: countOpt(values, 'photos', 32),
      seconds: intOpt(values, 'window-seconds', 10, { min: 0 }),
      repeats: countOpt(values, 'repeats', 3),
      workDir: path.resolve(stringOpt(values, 'dir', '.vista/bench/serve')),
      modelDir: path.resolve(stringOpt(values, 'model', BENCH_DEFAULTS.vitModelDir)),
      provider: choiceOpt(values, 'provider', ['auto', 'cuda', 'webgpu', 'cpu'], 'auto'),
      log: (m) => process.stderr.write(`${m}\n`),
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};
