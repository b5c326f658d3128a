/**
 * The shapes of the CLIP models we can generate, and their parameter counts computed from the
 * shapes alone (so tests can check the ViT-B/32 layout without writing 600 MB).
 */
export type ClipSize = 'tiny' | 'vit-b-32';

export interface TransformerSpec {
  width: number;
  layers: number;
  heads: number;
  mlpWidth: number;
}

export interface VisionSpec extends TransformerSpec {
  imageSize: number;
  patchSize: number;
}

export interface TextSpec extends TransformerSpec {
  contextLength: number;
  vocabSize: number;
}

export interface ClipArchitecture {
  size: ClipSize;
  projectionDim: number;
  vision: VisionSpec;
  text: TextSpec;
}

const ARCHITECTURES: Record<ClipSize, ClipArchitecture> = {
  // Small enough to generate and run in milliseconds; the vocabulary only has to hold the
  // generated tokenizer (byte alphabet + hotel-word merges), not CLIP's 49408 entries.
  tiny: {
    size: 'tiny',
    projectionDim: 32,
    vision: { imageSize: 32, patchSize: 8, width: 64, layers: 2, heads: 4, mlpWidth: 256 },
    text: { contextLength: 77, vocabSize: 4096, width: 64, layers: 2, heads: 4, mlpWidth: 256 },
  },
  // OpenAI CLIP ViT-B/32: same shapes, same FLOPs.
  'vit-b-32': {
    size: 'vit-b-32',
    projectionDim: 512,
    vision: { imageSize: 224, patchSize: 32, width: 768, layers: 12, heads: 12, mlpWidth: 3072 },
    text: { contextLength: 77, vocabSize: 49408, width: 512, layers: 12, heads: 8, mlpWidth: 2048 },
  },
};

export const CLIP_SIZES = Object.keys(ARCHITECTURES) as ClipSize[];

export function clipArchitecture(size: ClipSize): ClipArchitecture {
  const arch = ARCHITECTURES[size];
  if (!arch) throw new Error(`unknown CLIP size "${size}" (expected one of ${CLIP_SIZES.join(', ')})`);
  return arch;
}

export function patchGrid(vision: VisionSpec): number {
  return vision.imageSize / vision.patchSize;
}

/** Tokens the vision transformer sees: one per patch plus the class token. */
export function visionTokens(vision: VisionSpec): number {
  return patchGrid(vision) ** 2 + 1;
}

function encoderLayerParams(t: TransformerSpec): number {
  const d = t.width;
  const attention = 4 * (d * d + d);
  const mlp = d * t.mlpWidth + t.mlpWidth + t.mlpWidth * d + d;
  const layerNorms = 2 * 2 * d;
  return attention + mlp + layerNorms;
}

export interface ParameterCounts {
  vision: number;
  text: number;
  /** Both towers with their projections; CLIP's scalar logit_scale lives in config.json. */
  total: number;
}

export function parameterCounts(arch: ClipArchitecture): ParameterCounts {
  const v = arch.vision;
  const vision =
    v.width * 3 * v.patchSize * v.patchSize + // patch embedding (conv, no bias)
    v.width + // class embedding
    visionTokens(v) * v.width + // position embedding
    2 * v.width + // pre layer norm
    v.layers * encoderLayerParams(v) +
    2 * v.width + // post layer norm
    v.width * arch.projectionDim; // visual projection (no bias)
  const t = arch.text;
  const text =
    t.vocabSize * t.width +
    t.contextLength * t.width +
    t.layers * encoderLayerParams(t) +
    2 * t.width + // final layer norm
    t.width * arch.projectionDim; // text projection (no bias)
  return { vision, text, total: vision + text };
}
