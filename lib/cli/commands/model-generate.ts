import * as path from 'node:path';
import { SystemErrorCode, VistaError } from '../../core/errors';
import { makeLogger } from '../../core/log';
import { generateClipModel } from '../../core/model/generate';
import { type CliCommand, intOpt, stringOpt } from '../command';

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
    const out = stringOpt(values, 'out');
    const size = stringOpt(values, 'size', 'tiny');
    const dtype = stringOpt(values, 'dtype', 'fp32');
    if (!out) throw new VistaError(SystemErrorCode.CONFIG_INVALID, '--out DIR is required');
    if (size !== 'tiny' && size !== 'vit-b-32') throw new VistaError(SystemErrorCode.CONFIG_INVALID, `--size must be tiny or vit-b-32, got ${size}`);
    if (dtype !== 'fp32' && dtype !== 'fp16') throw new VistaError(SystemErrorCode.CONFIG_INVALID, `--dtype must be fp32 or fp16, got ${dtype}`);
    const started = Date.now();
    await generateClipModel({
      outDir: path.resolve(out),
      size,
      dtype,
      seed: intOpt(values, 'seed', 42),
      onProgress: (message: string) => logger.info(message),
    });
    logger.info('model written', { dir: path.resolve(out), size, dtype, seconds: (Date.now() - started) / 1000 });
    return 0;
  },
};
