/**
 * A small builder for ONNX graphs: named nodes, initializers filled from the seeded generator,
 * typed inputs/outputs. Parameters are stored as float32 or float16; in the float16 case each one
 * is Cast to float32 right away so every op runs in float32 (onnxruntime's CPU provider lacks
 * float16 kernels for most ops, and folds those Casts of constants once at session creation).
 */
import { float32ToFloat16 } from '../float16';
import {
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
  OnnxAttributeType,
  OnnxDataType,
} from './onnx-proto';
import { fillNormal, tensorSeed } from './random';

export type WeightDtype = 'fp32' | 'fp16';

export type ParamInit = { normal: number } | { constant: number };

export type AttrValue = { int: number } | { float: number } | { ints: number[] };
export const int = (value: number): AttrValue => ({ int: value });
export const float = (value: number): AttrValue => ({ float: value });
export const ints = (value: number[]): AttrValue => ({ ints: value });

export interface GraphBuilderOptions {
  name: string;
  seed: number;
  dtype: WeightDtype;
  /** false: record shapes and counts only (no weight bytes), to check a large layout cheaply. */
  materialize?: boolean;
}

export const OPSET = 17;
const IR_VERSION = 8;

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private nextId = 0;
  /** Elements in trainable parameters (not constants such as the causal mask). */
  parameterCount = 0;

  constructor(private readonly options: GraphBuilderOptions) {}

  get weightType(): OnnxDataType {
    return this.options.dtype === 'fp16' ? OnnxDataType.FLOAT16 : OnnxDataType.FLOAT;
  }

  /** A trainable parameter; returns the name of its float32 value. */
  param(name: string, dims: number[], init: ParamInit): string {
    const size = dims.reduce((a, b) => a * b, 1);
    this.parameterCount += size;
    let raw: Uint8Array = new Uint8Array(0);
    if (this.options.materialize !== false) {
      const values = new Float32Array(size);
      if ('normal' in init) fillNormal(values, init.normal, tensorSeed(this.options.seed, name));
      else values.fill(init.constant);
      raw = this.options.dtype === 'fp16' ? bytesOf(float32ToFloat16(values)) : bytesOf(values);
    }
    this.initializers.push({ name, dims, data_type: this.weightType, raw_data: raw });
    if (this.options.dtype === 'fp32') return name;
    return this.op('Cast', [name], { to: int(OnnxDataType.FLOAT) }, `${name}/float32`);
  }

  /** A fixed float32 tensor (not a parameter). */
  constFloat(values: ArrayLike<number>, dims: number[], name = this.uniqueName('const')): string {
    this.initializers.push({ name, dims, data_type: OnnxDataType.FLOAT, raw_data: bytesOf(Float32Array.from(values)) });
    return name;
  }

  constScalar(value: number): string {
    return this.constFloat([value], []);
  }

  constInt64(values: number[], dims = [values.length]): string {
    const name = this.uniqueName('shape');
    this.initializers.push({ name, dims, data_type: OnnxDataType.INT64, raw_data: bytesOf(BigInt64Array.from(values.map(BigInt))) });
    return name;
  }

  /** Adds a node with one output and returns that output's name. */
  op(opType: string, inputs: string[], attributes: Record<string, AttrValue> = {}, output?: string): string {
    const out = output ?? this.uniqueName(opType);
    this.nodes.push({
      name: `${out}/${opType}`,
      op_type: opType,
      input: inputs,
      output: [out],
      attribute: Object.entries(attributes).map(([attrName, value]) => toAttribute(attrName, value)),
    });
    return out;
  }

  input(name: string, elemType: OnnxDataType, dims: Array<number | string>): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Exposes `from` (a float32 value unless it is an integer tensor) as a graph output of `elemType`. */
  output(name: string, from: string, elemType: OnnxDataType, dims: Array<number | string>): void {
    if (elemType === OnnxDataType.FLOAT16) this.op('Cast', [from], { to: int(OnnxDataType.FLOAT16) }, name);
    else this.op('Identity', [from], {}, name);
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** Graph inputs arrive as `elemType`; returns the float32 view of it. */
  inputAsFloat32(name: string, elemType: OnnxDataType, dims: Array<number | string>): string {
    this.input(name, elemType, dims);
    return elemType === OnnxDataType.FLOAT ? name : this.op('Cast', [name], { to: int(OnnxDataType.FLOAT) });
  }

  get initializerElementCount(): number {
    return this.initializers.reduce((sum, t) => sum + t.dims.reduce((a, b) => a * b, 1), 0);
  }

  buildGraph(): GraphProto {
    return { name: this.options.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs };
  }

  buildModel(metadata: Record<string, string> = {}): ModelProto {
    return {
      ir_version: IR_VERSION,
      opset_import: [{ domain: '', version: OPSET }],
      producer_name: 'vista-model-generator',
      producer_version: '1',
      graph: this.buildGraph(),
      metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    };
  }

  private uniqueName(prefix: string): string {
    return `${prefix}_${this.nextId++}`;
  }
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  // ONNX raw_data is little-endian, as are the x86-64 and arm64 machines we run on.
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function valueInfo(name: string, elemType: OnnxDataType, dims: Array<number | string>): ValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name, type: { tensor_type: { elem_type: elemType, shape: { dim } } } };
}

function toAttribute(name: string, value: AttrValue): AttributeProto {
  if ('int' in value) return { name, type: OnnxAttributeType.INT, i: value.int };
  if ('float' in value) return { name, type: OnnxAttributeType.FLOAT, f: value.float };
  return { name, type: OnnxAttributeType.INTS, ints: value.ints };
}
