/**
 * The pre-LayerNorm transformer blocks both CLIP towers share, laid out as Hugging Face's
 * CLIPEncoderLayer (parameter names included). Initial scales follow HF's CLIP `_init_weights`
 * (factor 1) so activations keep a sane magnitude through 12 random layers.
 */
import type { TransformerSpec } from './architecture';
import { type GraphBuilder, float, int, ints } from './graph-builder';

const LAYER_NORM_EPS = 1e-5;
const QUICK_GELU_ALPHA = 1.702;

export function layerNorm(g: GraphBuilder, x: string, prefix: string, width: number): string {
  const scale = g.param(`${prefix}.weight`, [width], { constant: 1 });
  const bias = g.param(`${prefix}.bias`, [width], { constant: 0 });
  return g.op('LayerNormalization', [x, scale, bias], { axis: int(-1), epsilon: float(LAYER_NORM_EPS) });
}

/** y = x·W + b with W stored [in, out] (as exporters fold PyTorch's transposed Linear weight). */
export function linear(g: GraphBuilder, x: string, prefix: string, dims: [number, number], std: number, bias = true): string {
  const weight = g.param(`${prefix}.weight`, dims, { normal: std });
  const product = g.op('MatMul', [x, weight]);
  if (!bias) return product;
  return g.op('Add', [product, g.param(`${prefix}.bias`, [dims[1]], { constant: 0 })]);
}

/**
 * Multi-head self-attention over x [batch, seq, width]. `additiveMask` (broadcastable to
 * [batch, heads, seq, seq]) holds 0 for visible keys and a large negative number for hidden ones.
 */
function selfAttention(g: GraphBuilder, x: string, prefix: string, spec: TransformerSpec, additiveMask?: string): string {
  const d = spec.width;
  const headDim = d / spec.heads;
  const inStd = d ** -0.5 * (2 * spec.layers) ** -0.5;
  const splitHeads = g.constInt64([0, 0, spec.heads, headDim]);

  const project = (name: string, std: number): string => linear(g, x, `${prefix}.${name}`, [d, d], std);
  const q = g.op('Mul', [project('q_proj', inStd), g.constScalar(headDim ** -0.5)]);
  const k = project('k_proj', inStd);
  const v = project('v_proj', inStd);

  const qHeads = g.op('Transpose', [g.op('Reshape', [q, splitHeads])], { perm: ints([0, 2, 1, 3]) });
  const kHeadsT = g.op('Transpose', [g.op('Reshape', [k, splitHeads])], { perm: ints([0, 2, 3, 1]) });
  const vHeads = g.op('Transpose', [g.op('Reshape', [v, splitHeads])], { perm: ints([0, 2, 1, 3]) });

  let scores = g.op('MatMul', [qHeads, kHeadsT]);
  if (additiveMask) scores = g.op('Add', [scores, additiveMask]);
  const weights = g.op('Softmax', [scores], { axis: int(-1) });
  const context = g.op('Transpose', [g.op('MatMul', [weights, vHeads])], { perm: ints([0, 2, 1, 3]) });
  const merged = g.op('Reshape', [context, g.constInt64([0, 0, d])]);
  return linear(g, merged, `${prefix}.out_proj`, [d, d], d ** -0.5);
}

function mlp(g: GraphBuilder, x: string, prefix: string, spec: TransformerSpec): string {
  const d = spec.width;
  const fc1 = linear(g, x, `${prefix}.fc1`, [d, spec.mlpWidth], (2 * d) ** -0.5);
  const activated = g.op('Mul', [fc1, g.op('Sigmoid', [g.op('Mul', [fc1, g.constScalar(QUICK_GELU_ALPHA)])])]);
  return linear(g, activated, `${prefix}.fc2`, [spec.mlpWidth, d], d ** -0.5 * (2 * spec.layers) ** -0.5);
}

/** x + attn(LN1(x)), then + mlp(LN2(·)). */
export function encoderLayer(g: GraphBuilder, x: string, prefix: string, spec: TransformerSpec, additiveMask?: string): string {
  const attended = g.op('Add', [x, selfAttention(g, layerNorm(g, x, `${prefix}.layer_norm1`, spec.width), `${prefix}.self_attn`, spec, additiveMask)]);
  return g.op('Add', [attended, mlp(g, layerNorm(g, attended, `${prefix}.layer_norm2`, spec.width), `${prefix}.mlp`, spec)]);
}

export function encoder(g: GraphBuilder, x: string, prefix: string, spec: TransformerSpec, additiveMask?: string): string {
  let hidden = x;
  for (let i = 0; i < spec.layers; i++) hidden = encoderLayer(g, hidden, `${prefix}.layers.${i}`, spec, additiveMask);
  return hidden;
}
