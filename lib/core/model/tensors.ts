/**
 * Moving floats in and out of ONNX Runtime tensors whatever precision the model was exported in,
 * and the L2 normalization CLIP embeddings get before cosine similarity.
 */
import * as ort from 'onnxruntime-node';
import { float16ToFloat32, float32ToFloat16 } from './float16';

export type FloatTensorType = 'float32' | 'float16';

export function floatTensor(values: Float32Array, dims: number[], type: FloatTensorType): ort.Tensor {
  return type === 'float16' ? new ort.Tensor('float16', float32ToFloat16(values), dims) : new ort.Tensor('float32', values, dims);
}

export function tensorToFloat32(tensor: ort.Tensor): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') {
    const data = tensor.data as ArrayBufferView;
    // Newer runtimes may hand back a Float16Array where the platform has one.
    if (!(data instanceof Uint16Array)) return Float32Array.from(data as unknown as ArrayLike<number>);
    return float16ToFloat32(data);
  }
  throw new Error(`expected a float tensor, got ${tensor.type}`);
}

/** Splits [rows, dim] into rows, each scaled to unit length (a zero row stays zero). */
export function normalizedRows(flat: Float32Array, rows: number, dim: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let r = 0; r < rows; r++) {
    const row = flat.slice(r * dim, (r + 1) * dim);
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += row[i] * row[i];
    const norm = Math.sqrt(sum);
    if (norm > 0) for (let i = 0; i < dim; i++) row[i] /= norm;
    out.push(row);
  }
  return out;
}
