import * as path from 'node:path';
import { makeLogger } from '../../core/log';
import { generateClipModel } from '../../core/model/generate';
import { type CliCommand, choiceOpt, intOpt, requireOpt } from '../command';

export const command: CliCommand = {
  name: 'model generate',
  summary: 'Write a CLIP-architecture ONNX model with seeded random weights (tests, benchmarks)',
  usage: [
    'vista model generate --out DIR [--size tiny|vit-b-32] [--seed N] [--dtype fp32|fp16]',
    '',
    '  --size     tiny (fast, for tests; default) or vit-b-32 (real ViT-B/32 shapes and FLOPs, ~600 MB)',
    '  --seed     weights seed (default 42): same seed, same bytes',
    '  --dtype    fp32 (default) or fp16 weights and inputs/outputs',
    '',
    'The weights are random: embeddings are deterministic but tags are meaningless.',
    'For real weights, export openai/clip-vit-base-patch32 with optimum (see README).',
  ].join('\n'),
  options: { out: { type: 'string' }, size: { type: 'string' }, seed: { type: 'string' }, dtype: { type: 'string' } },
  async run(values) {
    const logger = makeLogger();
    const out = requireOpt(values, 'out', 'the folder to write the model into');
    const size = choiceOpt(values, 'size', ['tiny', 'vit-b-32'], 'tiny');
    const dtype = choiceOpt(values, 'dtype', ['fp32', 'fp16'], 'fp32');
    const started = Date.now();
    await generateClipModel({
      outDir: path.resolve(out),
      size,
      dtype,
      seed: intOpt(values, 'seed', 42, { min: 0 }),
      onProgress: (message: string) => logger.info(message),
    });
    logger.info('model written', { dir: path.resolve(out), size, dtype, seconds: (Date.now() - started) / 1000 });
    return 0;
  },
};
