/**
 * Reads what the runtime needs from a model's Hugging Face configs: embedding size, logit scale,
 * text context length and the image preprocessing. Accepts both the current and older
 * preprocessor_config.json styles (`size: 224` vs `size: {shortest_edge: 224}`).
 */
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { z } from 'zod';
import { SystemErrorCode, VistaError } from '../errors';
import type { PreprocessSpec } from '../types';
import { MODEL_FILES } from './model-files';

/**
 * exp(logit_scale) of trained OpenAI CLIP models (the learned temperature hits its clamp at 100).
 * Split ONNX exports drop that scalar, and config.json's `logit_scale_init_value` is only its value
 * *before* training (ln(1/0.07) → 14.3), so it must not be used: a model trained with another scale
 * says so in `config.json` under `vista.logit_scale`.
 */
const DEFAULT_LOGIT_SCALE = 100;
const DEFAULT_CONTEXT_LENGTH = 77;
const OPENAI_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** PIL resampling codes as HF stores them → sharp kernels. */
const RESAMPLE: Record<number, PreprocessSpec['resample']> = { 0: 'nearest', 1: 'lanczos3', 2: 'linear', 3: 'cubic' };

const configSchema = z.object({
  projection_dim: z.number().int().positive(),
  vista: z.object({ logit_scale: z.number().positive().optional() }).passthrough().optional(),
  text_config: z.object({ max_position_embeddings: z.number().int().positive().optional() }).nullish(),
  vision_config: z.object({ image_size: z.number().int().positive().optional() }).nullish(),
});

const triple = z.tuple([z.number(), z.number(), z.number()]);
const sizeSchema = z.union([
  z.number().int().positive(),
  z.object({ shortest_edge: z.number().int().positive() }),
  z.object({ height: z.number().int().positive(), width: z.number().int().positive() }),
]);
const preprocessorSchema = z.object({
  size: sizeSchema,
  crop_size: sizeSchema.optional(),
  do_center_crop: z.boolean().optional(),
  image_mean: triple.default(OPENAI_MEAN),
  image_std: triple.default(OPENAI_STD),
  resample: z.number().int().default(3),
});

export interface ModelSpec {
  embedDim: number;
  logitScale: number;
  contextLength: number;
  preprocess: PreprocessSpec;
}

function edge(size: z.infer<typeof sizeSchema>): number {
  if (typeof size === 'number') return size;
  if ('shortest_edge' in size) return size.shortest_edge;
  return Math.min(size.height, size.width);
}

export function parseModelSpec(config: unknown, preprocessor: unknown, where = 'model'): ModelSpec {
  const c = configSchema.safeParse(config);
  if (!c.success) throw invalid(`${where}/${MODEL_FILES.config}`, c.error);
  const p = preprocessorSchema.safeParse(preprocessor);
  if (!p.success) throw invalid(`${where}/${MODEL_FILES.preprocessor}`, p.error);

  const resample = RESAMPLE[p.data.resample];
  if (!resample) {
    throw new VistaError(SystemErrorCode.MODEL_INVALID, `${where}: unsupported resample code ${p.data.resample} (expected 0–3)`);
  }
  const resizeShortestEdge = edge(p.data.size);
  const cropSize = p.data.crop_size !== undefined && p.data.do_center_crop !== false ? edge(p.data.crop_size) : resizeShortestEdge;
  const imageSize = c.data.vision_config?.image_size;
  if (imageSize !== undefined && imageSize !== cropSize) {
    throw new VistaError(SystemErrorCode.MODEL_INVALID, `${where}: crop size ${cropSize} does not match vision image_size ${imageSize}`);
  }
  return {
    embedDim: c.data.projection_dim,
    logitScale: c.data.vista?.logit_scale ?? DEFAULT_LOGIT_SCALE,
    contextLength: c.data.text_config?.max_position_embeddings ?? DEFAULT_CONTEXT_LENGTH,
    preprocess: { resizeShortestEdge, cropSize, mean: p.data.image_mean, std: p.data.image_std, resample },
  };
}

export async function readModelSpec(dir: string): Promise<ModelSpec> {
  const config = await readJsonFile(path.join(dir, MODEL_FILES.config));
  const preprocessor = await readJsonFile(path.join(dir, MODEL_FILES.preprocessor));
  return parseModelSpec(config, preprocessor, dir);
}

export async function readJsonFile(file: string): Promise<unknown> {
  const text = await fs.readFile(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new VistaError(SystemErrorCode.MODEL_INVALID, `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function invalid(file: string, error: z.ZodError): VistaError {
  const issues = error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  return new VistaError(SystemErrorCode.MODEL_INVALID, `${file} is invalid: ${issues}`, { details: { issues: error.issues } });
}
