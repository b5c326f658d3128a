/**
 * A ClipModel over two ONNX Runtime sessions (HF export layout). The sessions' metadata decides the
 * float precision fed and read (fp32 or fp16 exports) and whether the text sequence length is fixed.
 */
import * as ort from 'onnxruntime-node';
import { ImageErrorCode, SystemErrorCode, VistaError } from '../errors';
import type { ClipModel, ExecutionProviderName } from '../types';
import type { ClipTokenizer } from './clip-tokenizer';
import type { ModelSpec } from './model-config';
import { type FloatTensorType, floatTensor, normalizedRows, tensorToFloat32 } from './tensors';

export const TEXT_CHUNK = 256;

export interface ClipSessions {
  vision: ort.InferenceSession;
  text: ort.InferenceSession;
}

interface SessionLayout {
  pixelType: FloatTensorType;
  hasAttentionMask: boolean;
  /** Set when the export fixed the sequence length (e.g. 77) instead of leaving it dynamic. */
  fixedTextLength?: number;
}

function tensorMeta(session: ort.InferenceSession, kind: 'input' | 'output', name: string): ort.InferenceSession.TensorValueMetadata {
  const list = kind === 'input' ? session.inputMetadata : session.outputMetadata;
  const meta = list.find((m) => m.name === name);
  if (!meta || !meta.isTensor) {
    const names = list.map((m) => m.name).join(', ');
    throw new VistaError(SystemErrorCode.MODEL_INVALID, `model has no ${kind} tensor "${name}" (has: ${names})`);
  }
  return meta;
}

/** Checks the sessions look like a CLIP export and reads what running them needs. */
export function inspectSessions(sessions: ClipSessions): SessionLayout {
  const pixels = tensorMeta(sessions.vision, 'input', 'pixel_values');
  tensorMeta(sessions.vision, 'output', 'image_embeds');
  tensorMeta(sessions.text, 'input', 'input_ids');
  tensorMeta(sessions.text, 'output', 'text_embeds');
  if (pixels.type !== 'float32' && pixels.type !== 'float16') {
    throw new VistaError(SystemErrorCode.MODEL_INVALID, `pixel_values must be float32 or float16, not ${pixels.type}`);
  }
  const ids = tensorMeta(sessions.text, 'input', 'input_ids');
  const seqDim = ids.shape[1];
  return {
    pixelType: pixels.type,
    hasAttentionMask: sessions.text.inputNames.includes('attention_mask'),
    fixedTextLength: typeof seqDim === 'number' && seqDim > 0 ? seqDim : undefined,
  };
}

export interface OnnxClipModelParts {
  id: string;
  spec: ModelSpec;
  provider: ExecutionProviderName;
  sessions: ClipSessions;
  tokenizer: ClipTokenizer;
}

export function makeOnnxClipModel({ id, spec, provider, sessions, tokenizer }: OnnxClipModelParts): ClipModel {
  const layout = inspectSessions(sessions);
  const side = spec.preprocess.cropSize;
  const pixelsPerImage = 3 * side * side;

  async function embedImages(pixels: Float32Array, count: number): Promise<Float32Array[]> {
    if (!Number.isInteger(count) || count < 0 || pixels.length !== count * pixelsPerImage) {
      throw new VistaError(ImageErrorCode.MODEL_FAILED, `expected ${count} × ${pixelsPerImage} pixel values, got ${pixels.length}`);
    }
    if (count === 0) return [];
    const input = floatTensor(pixels, [count, 3, side, side], layout.pixelType);
    const out = await run(sessions.vision, { pixel_values: input }, 'image_embeds');
    return normalizedRows(tensorToFloat32(out), count, spec.embedDim);
  }

  async function embedTextChunk(texts: string[]): Promise<Float32Array[]> {
    const batch = tokenizer.encodeBatch(texts, layout.fixedTextLength);
    const dims = [batch.count, batch.length];
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', batch.inputIds, dims) };
    if (layout.hasAttentionMask) feeds.attention_mask = new ort.Tensor('int64', batch.attentionMask, dims);
    const out = await run(sessions.text, feeds, 'text_embeds');
    return normalizedRows(tensorToFloat32(out), batch.count, spec.embedDim);
  }

  return {
    id,
    embedDim: spec.embedDim,
    preprocess: spec.preprocess,
    logitScale: spec.logitScale,
    provider,
    embedImages,
    async embedTexts(texts) {
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += TEXT_CHUNK) out.push(...(await embedTextChunk(texts.slice(i, i + TEXT_CHUNK))));
      return out;
    },
    async close() {
      await Promise.all([sessions.vision.release(), sessions.text.release()]);
    },
  };
}

async function run(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, output: string): Promise<ort.Tensor> {
  try {
    const result = await session.run(feeds, [output]);
    return result[output] as ort.Tensor;
  } catch (err) {
    throw new VistaError(ImageErrorCode.MODEL_FAILED, `model run failed: ${(err as Error).message}`, { cause: err });
  }
}
