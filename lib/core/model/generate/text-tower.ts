/**
 * CLIP's text tower as HF's CLIPTextModelWithProjection exports it:
 * input_ids, attention_mask int64 [batch, seq] → text_embeds [batch, projection_dim] (+ last_hidden_state).
 * Pooling takes the hidden state at the end-of-text token, found as the argmax of input_ids:
 * CLIP's tokenizer gives <|endoftext|> the highest id (and padding never outranks the first one).
 */
import type { ClipArchitecture } from './architecture';
import { GraphBuilder, type GraphBuilderOptions, int } from './graph-builder';
import type { ModelProto } from './onnx-proto';
import { OnnxDataType } from './onnx-proto';
import { encoder, layerNorm } from './transformer';

/** Large but finite, so that a causal and a padding mask added together stay finite too. */
const MASKED = -1e9;

function causalMask(context: number): Float32Array {
  const mask = new Float32Array(context * context);
  for (let row = 0; row < context; row++) for (let col = row + 1; col < context; col++) mask[row * context + col] = MASKED;
  return mask;
}

export function buildTextModel(arch: ClipArchitecture, options: Omit<GraphBuilderOptions, 'name'>): { model: ModelProto; parameterCount: number } {
  const g = new GraphBuilder({ ...options, name: 'clip_text_model' });
  const t = arch.text;
  const d = t.width;
  const ioType = g.weightType;

  const inputIds = g.input('input_ids', OnnxDataType.INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', OnnxDataType.INT64, ['batch_size', 'sequence_length']);
  const seqLen = g.op('Shape', [inputIds], { start: int(1), end: int(2) });

  const tokenTable = g.param('text_model.embeddings.token_embedding.weight', [t.vocabSize, d], { normal: 0.02 });
  const positionTable = g.param('text_model.embeddings.position_embedding.weight', [t.contextLength, d], { normal: 0.02 });
  const positions = g.op('Slice', [positionTable, g.constInt64([0]), seqLen, g.constInt64([0])]);
  const embedded = g.op('Add', [g.op('Gather', [tokenTable, inputIds], { axis: int(0) }), positions]);

  // Additive mask [batch, 1, seq, seq]: future tokens (causal) and padding keys are hidden.
  const causalFull = g.constFloat(causalMask(t.contextLength), [t.contextLength, t.contextLength], 'causal_mask');
  const squareEnds = g.op('Concat', [seqLen, seqLen], { axis: int(0) });
  const causal = g.op('Slice', [causalFull, g.constInt64([0, 0]), squareEnds, g.constInt64([0, 1])]);
  const keep = g.op('Cast', [attentionMask], { to: int(OnnxDataType.FLOAT) });
  const padding = g.op('Mul', [g.op('Sub', [g.constScalar(1), keep]), g.constScalar(MASKED)]);
  const paddingKeys = g.op('Unsqueeze', [padding, g.constInt64([1, 2])]);
  const mask = g.op('Add', [paddingKeys, causal]);

  const hidden = layerNorm(g, encoder(g, embedded, 'text_model.encoder', t, mask), 'text_model.final_layer_norm', d);

  // Cast to int32 first, as HF's export does: int64 ArgMax is not implemented everywhere.
  const eosPosition = g.op('ArgMax', [g.op('Cast', [inputIds], { to: int(OnnxDataType.INT32) })], { axis: int(-1), keepdims: int(1) });
  const eosIndex = g.op('Cast', [eosPosition], { to: int(OnnxDataType.INT64) });
  const pooled = g.op('GatherND', [hidden, eosIndex], { batch_dims: int(1) });
  const projection = g.param('text_projection.weight', [d, arch.projectionDim], { normal: d ** -0.5 });
  const textEmbeds = g.op('MatMul', [pooled, projection]);

  g.output('text_embeds', textEmbeds, ioType, ['batch_size', arch.projectionDim]);
  g.output('last_hidden_state', hidden, ioType, ['batch_size', 'sequence_length', d]);
  return { model: g.buildModel(), parameterCount: g.parameterCount };
}
