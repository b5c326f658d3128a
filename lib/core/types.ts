/**
 * The typed seams of the enrichment pipeline:
 * reader → source (fetch) → decoder → batcher → model → tagger / namer → writer.
 */
import type { ImageErrorCode } from './errors';

/** One line of a shard, normalized. `index` is its 0-based position in the shard file. */
export interface ShardEntry {
  index: number;
  uri: string;
  imageId: string;
  hotelId?: string;
  hotelName?: string;
  city?: string;
}

/** Image formats we accept, named as sharp names them. */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'gif' | 'tiff';

/** How the model wants its pixels (read from preprocessor_config.json). */
export interface PreprocessSpec {
  /** Shortest side is resized to this many pixels. */
  resizeShortestEdge: number;
  /** Then a centered square crop of this size. */
  cropSize: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** sharp kernel used for resizing; CLIP uses bicubic. */
  resample: 'cubic' | 'lanczos3' | 'linear' | 'nearest';
}

/** A decoded image, ready for the model. */
export interface DecodedImage {
  /** CHW float32, normalized with mean/std, length 3 × cropSize × cropSize. */
  pixels: Float32Array;
  /** Size of the source image after EXIF orientation. */
  width: number;
  height: number;
  format: ImageFormat;
  /** Hex SHA-256 of the source bytes. */
  contentSha256: string;
  /**
   * Set when `pixels` is a slot of a decode pool's shared memory: hands the slot back once the
   * model has read it (the enricher does). Calling it twice is harmless.
   */
  release?: () => void;
}

/** A per-image failure: becomes a line of errors.jsonl, never an exception that stops a shard. */
export interface ImageFailure {
  imageId: string;
  sourceUri: string;
  errorCode: ImageErrorCode;
  message: string;
}

/** What the model produces for one image, plus what tagger and namer derive from it. */
export interface EnrichedImage {
  imageId: string;
  sourceUri: string;
  hotelId?: string;
  hotelName?: string;
  city?: string;
  seoFilename: string;
  tags: string[];
  tagScores: number[];
  /** L2-normalized. */
  embedding: Float32Array;
  width: number;
  height: number;
  format: ImageFormat;
  contentSha256: string;
  modelId: string;
  taxonomyId: string;
  processedAt: Date;
}

/** Execution providers Vista can ask onnxruntime for, in preference order. */
export type ExecutionProviderName = 'cuda' | 'webgpu' | 'cpu';

/** A loaded CLIP model: both towers, the preprocessing it expects, and its identity. */
export interface ClipModel {
  /** Stable identity: the model folder's name plus a hash of its config and weights files. */
  readonly id: string;
  readonly embedDim: number;
  readonly preprocess: PreprocessSpec;
  /** exp(logit_scale) as CLIP uses it to turn cosine similarities into logits (100 for OpenAI CLIP). */
  readonly logitScale: number;
  /** The provider actually running the vision tower. */
  readonly provider: ExecutionProviderName;
  /**
   * `count` images packed CHW one after the other in `pixels` → `count` L2-normalized embeddings.
   * The model may take ownership of `pixels`' buffer (a model in a worker thread transfers it
   * instead of copying): don't reuse it after the call.
   */
  embedImages(pixels: Float32Array, count: number): Promise<Float32Array[]>;
  /**
   * The same for images that each sit in their own array, typically slots of shared memory: a
   * model in a worker thread reads them there and packs the batch itself, so the caller's thread
   * never copies pixels. The arrays stay the caller's.
   */
  embedImageList?(images: readonly Float32Array[]): Promise<Float32Array[]>;
  /** Texts → L2-normalized embeddings (tokenized with the model's tokenizer.json). */
  embedTexts(texts: string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}
