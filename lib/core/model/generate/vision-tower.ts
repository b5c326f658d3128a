/**
 * CLIP's vision tower as HF's CLIPVisionModelWithProjection exports it:
 * pixel_values [batch, 3, H, W] → image_embeds [batch, projection_dim] (+ last_hidden_state).
 */
import { type ClipArchitecture, patchGrid, visionTokens } from './architecture';
import { GraphBuilder, type GraphBuilderOptions, int, ints } from './graph-builder';
import type { ModelProto } from './onnx-proto';
import { encoder, layerNorm } from './transformer';

export function buildVisionModel(arch: ClipArchitecture, options: Omit<GraphBuilderOptions, 'name'>): { model: ModelProto; parameterCount: number } {
  const g = new GraphBuilder({ ...options, name: 'clip_vision_model' });
  const v = arch.vision;
  const d = v.width;
  const ioType = g.weightType;
  const tokens = visionTokens(v);

  const pixels = g.inputAsFloat32('pixel_values', ioType, ['batch_size', 3, v.imageSize, v.imageSize]);
  const patchWeight = g.param('vision_model.embeddings.patch_embedding.weight', [d, 3, v.patchSize, v.patchSize], { normal: 0.02 });
  const patches = g.op('Conv', [pixels, patchWeight], {
    kernel_shape: ints([v.patchSize, v.patchSize]),
    strides: ints([v.patchSize, v.patchSize]),
  });
  // [B, D, G, G] → [B, G·G, D]
  const patchTokens = g.op('Transpose', [g.op('Reshape', [patches, g.constInt64([0, d, patchGrid(v) ** 2])])], { perm: ints([0, 2, 1]) });

  const classEmbedding = g.param('vision_model.embeddings.class_embedding', [d], { normal: d ** -0.5 });
  const batch = g.op('Shape', [pixels], { start: int(0), end: int(1) });
  const classShape = g.op('Concat', [batch, g.constInt64([1, d])], { axis: int(0) });
  const classTokens = g.op('Expand', [g.op('Reshape', [classEmbedding, g.constInt64([1, 1, d])]), classShape]);
  const sequence = g.op('Concat', [classTokens, patchTokens], { axis: int(1) });

  const positions = g.param('vision_model.embeddings.position_embedding.weight', [tokens, d], { normal: 0.02 });
  const embedded = layerNorm(g, g.op('Add', [sequence, positions]), 'vision_model.pre_layrnorm', d);

  const hidden = encoder(g, embedded, 'vision_model.encoder', v);
  const classToken = g.op('Gather', [hidden, g.constInt64([0], [])], { axis: int(1) });
  const pooled = layerNorm(g, classToken, 'vision_model.post_layernorm', d);
  const projection = g.param('visual_projection.weight', [d, arch.projectionDim], { normal: d ** -0.5 });
  const imageEmbeds = g.op('MatMul', [pooled, projection]);

  g.output('image_embeds', imageEmbeds, ioType, ['batch_size', arch.projectionDim]);
  g.output('last_hidden_state', hidden, ioType, ['batch_size', tokens, d]);
  return { model: g.buildModel(), parameterCount: g.parameterCount };
}
