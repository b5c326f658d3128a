/**
 * Writes a CLIP model with seeded random weights in Hugging Face's ONNX export layout:
 *   config.json, preprocessor_config.json, tokenizer.json, tokenizer_config.json,
 *   onnx/vision_model.onnx, onnx/text_model.onnx
 * Same options → byte-identical files. config.json is written last: a folder without it is
 * not a model, so an interrupted run is never mistaken for a complete one.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { SystemErrorCode, VistaError } from '../../errors';
import { type ClipArchitecture, type ClipSize, CLIP_SIZES, clipArchitecture } from './architecture';
import type { WeightDtype } from './graph-builder';
import { clipConfigJson, preprocessorConfigJson, tokenizerConfigJson } from './hf-configs';
import { encodeModel, type ModelProto } from './onnx-proto';
import { buildTextModel } from './text-tower';
import { buildClipTokenizerJson } from './tokenizer-json';
import { buildVisionModel } from './vision-tower';

export { clipArchitecture, parameterCounts, CLIP_SIZES, type ClipArchitecture, type ClipSize } from './architecture';
export { buildVisionModel } from './vision-tower';
export { buildTextModel } from './text-tower';
export { buildClipTokenizerJson } from './tokenizer-json';
export { GENERATOR_VERSION } from './hf-configs';

export interface GenerateClipModelOptions {
  outDir: string;
  size: ClipSize;
  seed?: number;
  dtype?: WeightDtype;
  onProgress?: (message: string) => void;
}

const optionsSchema = z.object({
  outDir: z.string().min(1),
  size: z.enum(CLIP_SIZES as [ClipSize, ...ClipSize[]]),
  seed: z.number().int().min(0).max(0xffffffff).default(42),
  dtype: z.enum(['fp32', 'fp16']).default('fp32'),
});

export async function generateClipModel(options: GenerateClipModelOptions): Promise<void> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `invalid model generator options: ${parsed.error.message}`);
  }
  const { outDir, size, seed, dtype } = parsed.data;
  const progress = options.onProgress ?? (() => undefined);
  const arch: ClipArchitecture = clipArchitecture(size);
  const started = Date.now();

  await fs.mkdir(path.join(outDir, 'onnx'), { recursive: true });
  await fs.rm(path.join(outDir, 'config.json'), { force: true });
  const tokenizer = buildClipTokenizerJson(arch.text.vocabSize);
  await writeFileAtomic(path.join(outDir, 'tokenizer.json'), json(tokenizer.json));
  await writeFileAtomic(path.join(outDir, 'tokenizer_config.json'), json(tokenizerConfigJson(arch)));
  await writeFileAtomic(path.join(outDir, 'preprocessor_config.json'), json(preprocessorConfigJson(arch)));
  progress(`tokenizer: ${tokenizer.vocabSize} tokens`);

  const towers: Array<[string, () => { model: ModelProto; parameterCount: number }]> = [
    ['vision_model.onnx', () => buildVisionModel(arch, { seed, dtype })],
    ['text_model.onnx', () => buildTextModel(arch, { seed, dtype })],
  ];
  for (const [file, build] of towers) {
    const { model, parameterCount } = build();
    const bytes = encodeModel(model);
    await writeFileAtomic(path.join(outDir, 'onnx', file), bytes);
    progress(`${file}: ${(parameterCount / 1e6).toFixed(2)}M parameters, ${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB`);
  }

  const config = clipConfigJson({ arch, seed, dtype, bosId: tokenizer.bosId, eosId: tokenizer.eosId });
  await writeFileAtomic(path.join(outDir, 'config.json'), json(config));
  progress(`done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${outDir}`);
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

async function writeFileAtomic(file: string, body: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, body);
  await fs.rename(tmp, file);
}
