import * as path from 'node:path';
import { BENCH_DEFAULTS, runWorkerBench } from '../../../bench/worker';
import { type CliCommand, choiceOpt, countOpt, countsOpt, stringOpt } from '../command';

export const command: CliCommand = {
  name: 'bench worker',
  summary: 'Benchmark decode, model, end-to-end and naive throughput; prints JSON',
  usage: [
    'vista bench worker [--images N] [--batch-sizes 1,8,16,32,64] [--provider auto|cpu|webgpu|cuda] [--dir DIR] [--compare-model-thread]',
    '',
    'Generates photo-like 1–2 MP JPEGs and a ViT-B/32-sized random model on first use (under --dir and .vista/models).',
  ].join('\n'),
  options: { 'compare-model-thread': { type: 'boolean' }, images: { type: 'string' }, 'batch-sizes': { type: 'string' }, provider: { type: 'string' }, dir: { type: 'string' } },
  async run(values) {
    const provider = choiceOpt(values, 'provider', ['auto', 'cuda', 'webgpu', 'cpu'], 'auto');
    const result = await runWorkerBench({
      images: countOpt(values, 'images', 256),
      workDir: path.resolve(stringOpt(values, 'dir', '.vista/bench/worker')),
      batchSizes: countsOpt(values, 'batch-sizes', '1,8,16,32,64'),
      provider,
      compareModelThread: values['compare-model-thread'] === true,
      log: (m) => process.stderr.write(`${m}\n`),
      ...BENCH_DEFAULTS,
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};
