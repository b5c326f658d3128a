/**
 * Scoring a whole batch of stored embeddings at once: one matrix product (embeddings × label
 * bankᵀ) in onnxruntime's CPU kernels (MLAS), then the worker's own emission rule (TagPlan.emit)
 * per row, written straight into typed arrays.
 *
 * Why float64: the worker sums each dot product in float64 (lib/core/tags/scorer.ts); a float32
 * GEMM would move logits by ~1e-5 (× the logit scale of 100), enough to flip a tag sitting on
 * its threshold. Products of float32 (or float16) values are exact in float64, so the only
 * difference left is the order of the sums, ~1e-15. The float16 → float64 Cast runs in the
 * graph, so float16 stores go in as their raw bits.
 */
import * as ort from 'onnxruntime-node';
import { SystemErrorCode, VistaError } from '../errors';
import { encodeModel, type ModelProto, OnnxAttributeType, OnnxDataType, type ValueInfoProto } from '../model/generate/onnx-proto';
import type { LabelBank, TagPlan } from '../tags';

/** One batch's embeddings, row-major, as stored. */
export interface EmbeddingBlock {
  rows: number;
  dim: number;
  /** float16 bits (Uint16Array) or float32 values. */
  values: Uint16Array | Float32Array;
}

export interface BankProduct {
  /** rows × bank rows, row-major: logitScale × cos(image, bank row), as the worker computes it. */
  logits(block: EmbeddingBlock): Promise<Float64Array>;
  close(): Promise<void>;
}

function bankProductModel(bank: LabelBank, input: typeof OnnxDataType.FLOAT | typeof OnnxDataType.FLOAT16): ModelProto {
  const { dim } = bank;
  const rows = bank.rows.length;
  // MatMul wants the bank as dim × rows.
  const transposed = new Float64Array(dim * rows);
  for (let r = 0; r < rows; r++) for (let k = 0; k < dim; k++) transposed[k * rows + r] = bank.vectors[r * dim + k];
  const valueInfo = (name: string, type: OnnxDataType, dims: (number | string)[]): ValueInfoProto => ({
    name,
    type: { tensor_type: { elem_type: type, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  });
  return {
    ir_version: 8,
    opset_import: [{ domain: '', version: 17 }],
    producer_name: 'vista-retag',
    producer_version: '1',
    graph: {
      name: 'bank_product',
      node: [
        { name: 'cast', op_type: 'Cast', input: ['embeddings'], output: ['embeddings64'], attribute: [{ name: 'to', type: OnnxAttributeType.INT, i: OnnxDataType.DOUBLE }] },
        { name: 'dots', op_type: 'MatMul', input: ['embeddings64', 'bank'], output: ['dots'], attribute: [] },
      ],
      initializer: [{ name: 'bank', dims: [dim, rows], data_type: OnnxDataType.DOUBLE, raw_data: new Uint8Array(transposed.buffer) }],
      input: [valueInfo('embeddings', input, ['n', dim])],
      output: [valueInfo('dots', OnnxDataType.DOUBLE, ['n', rows])],
    },
    metadata_props: [],
  };
}

/**
 * A session per input precision, made on first use. `threads`: onnxruntime intra-op threads;
 * the default 1 leaves the other cores to LanceDB's reads and writes, which run alongside.
 */
export function makeBankProduct(bank: LabelBank, logitScale: number, threads = 1): BankProduct {
  const sessions = new Map<string, Promise<ort.InferenceSession>>();
  const session = (half: boolean) => {
    const key = half ? 'float16' : 'float32';
    let s = sessions.get(key);
    if (!s) {
      const model = encodeModel(bankProductModel(bank, half ? OnnxDataType.FLOAT16 : OnnxDataType.FLOAT));
      s = ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
      sessions.set(key, s);
    }
    return s;
  };
  return {
    async logits({ rows, dim, values }) {
      if (dim !== bank.dim) {
        throw new VistaError(SystemErrorCode.MODEL_INVALID, `image embedding has length ${dim}, the label bank ${bank.dim}`);
      }
      const half = values instanceof Uint16Array;
      const input = new ort.Tensor(half ? 'float16' : 'float32', values, [rows, dim]);
      const out = await (await session(half)).run({ embeddings: input });
      const dots = out.dots.data as Float64Array;
      // As the worker does: logit = logitScale × dot, in float64.
      for (let i = 0; i < dots.length; i++) dots[i] = logitScale * dots[i];
      return dots;
    },
    async close() {
      for (const s of sessions.values()) await (await s).release();
    },
  };
}

/** A batch's tags as Arrow-ready arrays: list offsets per row, then label indices and scores. */
export interface TaggedBlock {
  rows: number;
  /** rows + 1 offsets into labels/scores. */
  offsets: Int32Array;
  labels: Int32Array;
  scores: Float32Array;
}

/** Every row's hits, in the worker's order; `after` (per label) counts them. */
export function emitBlock(plan: TagPlan, logits: Float64Array, rows: number, after: Int32Array): TaggedBlock {
  const width = plan.rowCount;
  const labelCount = plan.labels.length;
  const offsets = new Int32Array(rows + 1);
  const labels = new Int32Array(rows * labelCount);
  const scores64 = new Float64Array(rows * labelCount);
  let at = 0;
  for (let r = 0; r < rows; r++) {
    at += plan.emit(logits, r * width, labels, scores64, at);
    offsets[r + 1] = at;
  }
  for (let h = 0; h < at; h++) after[labels[h]]++;
  return { rows, offsets, labels: labels.subarray(0, at), scores: Float32Array.from(scores64.subarray(0, at)) };
}
