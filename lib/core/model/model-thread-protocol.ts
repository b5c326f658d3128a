/** Messages between the main thread and the thread that owns the onnxruntime sessions. */
import type { AnnotatedBatch, NamingInput } from '../pipeline/annotations';
import type { LabelBank, Taxonomy } from '../tags';
import type { ModelRuntimeOptions } from './load-clip-model';
import type { ExecutionProviderName, PreprocessSpec } from '../types';

export interface ThreadInit {
  location: string;
  options: Omit<ModelRuntimeOptions, 'logger'>;
}

export type ThreadRequest =
  | { id: number; op: 'embedImages'; pixels: Float32Array; count: number }
  /** Views of shared memory (SharedArrayBuffer): they cross without a copy; the thread packs them. */
  | { id: number; op: 'embedImageList'; images: Float32Array[] }
  | { id: number; op: 'embedTexts'; texts: string[] }
  /** Installs the tagger that `annotateImageList` uses (built in the thread from the bank and taxonomy). */
  | { id: number; op: 'setTagger'; bank: LabelBank; taxonomy: Taxonomy }
  /** embedImageList, then tagging and naming in the thread: the reply is the batch in columns. */
  | { id: number; op: 'annotateImageList'; images: Float32Array[]; naming: NamingInput[] }
  | { id: number; op: 'close' };

export interface ModelDescription {
  id: string;
  embedDim: number;
  preprocess: PreprocessSpec;
  logitScale: number;
  provider: ExecutionProviderName;
}

export type ThreadMessage =
  | { kind: 'log'; line: object }
  | { kind: 'ready'; model: ModelDescription }
  | { kind: 'failed'; error: { code?: string; message: string } }
  /** `embeddings` is `count × embedDim` values, one transferable buffer. */
  | { kind: 'result'; id: number; embeddings?: Float32Array; annotated?: AnnotatedBatch; error?: { code?: string; message: string } };
