import * as path from 'node:path';
import { BENCH_DEFAULTS, runWorkerBench } from '../../../bench/worker';
import { type CliCommand, choiceOpt, countOpt, countsOpt, intOpt, stringOpt } from '../command';

export const command: CliCommand = {
  name: 'bench worker',
  summary: 'Benchmark decode (1…N threads), model, end-to-end and naive throughput and the main thread’s CPU per image; prints JSON',
  usage: [
    'vista bench worker [--images N] [--batch-sizes 1,8,16,32,64] [--provider auto|cpu|webgpu|cuda] [--dir DIR] [--compare-model-thread]',
    '                   [--window-seconds 10] [--repeats 3] [--naive-images 64] [--decode-threads 1,2,…] [--vit-model DIR] [--tiny-model DIR] [--skip-memory-check]',
    '',
    'Generates photo-like 1–2 MP JPEGs and a ViT-B/32-sized random model on first use (under --dir and .vista/models).',
    'Every figure is windows of ≥ --window-seconds, repeated --repeats times, the compared paths alternating: min and median.',
  ].join('\n'),
  options: {
    'compare-model-thread': { type: 'boolean' },
    'skip-memory-check': { type: 'boolean' },
    images: { type: 'string' },
    'batch-sizes': { type: 'string' },
    provider: { type: 'string' },
    dir: { type: 'string' },
    'window-seconds': { type: 'string' },
    repeats: { type: 'string' },
    'naive-images': { type: 'string' },
    'decode-threads': { type: 'string' },
    'vit-model': { type: 'string' },
    'tiny-model': { type: 'string' },
  },
  async run(values) {
    const provider = choiceOpt(values, 'provider', ['auto', 'cuda', 'webgpu', 'cpu'], 'auto');
    const threads = stringOpt(values, 'decode-threads') === undefined ? undefined : countsOpt(values, 'decode-threads', '');
    const result = await runWorkerBench({
      images: countOpt(values, 'images', 494),
      workDir: path.resolve(stringOpt(values, 'dir', '.vista/bench/worker')),
      batchSizes: countsOpt(values, 'batch-sizes', '1,8,16,32,64'),
      provider,
      compareModelThread: values['compare-model-thread'] === true,
      skipMemoryCheck: values['skip-memory-check'] === true,
      seconds: intOpt(values, 'window-seconds', 10, { min: 0 }),
      repeats: countOpt(values, 'repeats', 3),
      naiveImages: countOpt(values, 'naive-images', 64),
      ...(threads ? { decodeThreadCounts: threads } : {}),
      log: (m) => process.stderr.write(`${m}\n`),
      vitModelDir: path.resolve(stringOpt(values, 'vit-model', BENCH_DEFAULTS.vitModelDir)),
      tinyModelDir: path.resolve(stringOpt(values, 'tiny-model', BENCH_DEFAULTS.tinyModelDir)),
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};
