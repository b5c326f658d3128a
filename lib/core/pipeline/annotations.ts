/**
 * The tagger → namer stage for one batch of image embeddings, with its result in columns: a few
 * arrays per batch, the numeric ones transferable, instead of an object per image. It runs where
 * the embeddings appear: in the model thread when the model has one (loadClipModelInThread), so
 * that the worker's main thread only moves batches; in process otherwise (same function, same
 * results). The model thread is the stage with room for it: on a GPU machine and with a small
 * model it waits for the decoders, and next to a large model on CPU it is ~0.1% of a batch.
 */
import { seoFilename } from '../naming/seo';
import type { ImageFormat } from '../types';

export interface Tagger {
  tag(embedding: Float32Array): { tags: string[]; scores: number[] };
}

/** What naming needs to know of an image besides its tags. */
export interface NamingInput {
  imageId: string;
  format: ImageFormat;
  hotelName?: string;
  city?: string;
}

export interface AnnotatedBatch {
  count: number;
  /** count × dim, each row L2-normalized. */
  embeddings: Float32Array;
  /** Image i's tags are tags[tagOffsets[i] … tagOffsets[i + 1]), best first; its scores the same range of scores. */
  tagOffsets: Int32Array;
  tags: string[];
  scores: Float64Array;
  seoFilenames: string[];
}

/** Model → tagger → namer for a batch of images in shared memory (pixel slots), wherever the model runs. */
export interface ImageAnnotator {
  annotate(images: readonly Float32Array[], naming: readonly NamingInput[]): Promise<AnnotatedBatch>;
}

export function annotateEmbeddings(embeddings: readonly Float32Array[], dim: number, naming: readonly NamingInput[], tagger: Tagger): AnnotatedBatch {
  const count = embeddings.length;
  const packed = new Float32Array(count * dim);
  const tagOffsets = new Int32Array(count + 1);
  const tags: string[] = [];
  const scores: number[] = [];
  const seoFilenames: string[] = [];
  embeddings.forEach((embedding, i) => {
    packed.set(embedding, i * dim);
    const tagged = tagger.tag(embedding);
    tags.push(...tagged.tags);
    scores.push(...tagged.scores);
    tagOffsets[i + 1] = tags.length;
    const { imageId, format, hotelName, city } = naming[i];
    seoFilenames.push(seoFilename({ imageId, format, hotelName, city, tags: tagged.tags }));
  });
  return { count, embeddings: packed, tagOffsets, tags, scores: Float64Array.from(scores), seoFilenames };
}

/** The buffers a batch can hand over to another thread instead of copying. */
export function transferablesOf(batch: AnnotatedBatch): ArrayBuffer[] {
  return [batch.embeddings.buffer, batch.tagOffsets.buffer, batch.scores.buffer] as ArrayBuffer[];
}
