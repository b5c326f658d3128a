/**
 * Model → tagger / namer for one batch of decoded images. The same enricher serves the Batch
 * worker, the real-time path and the CLI. With an annotator (a model thread), batches whose pixels
 * sit in shared slots are embedded, tagged and named in that thread and come back in columns
 * (annotations.ts); otherwise the same stage runs here. Either way this builds the rows. If the model fails on a batch, each image is retried
 * alone so one poisoned image costs one error row, not a batch. A model that is gone (its thread
 * died, the GPU was lost) is not the images' fault: that throws MODEL_UNAVAILABLE, which stops the
 * shard with a retryable exit instead of writing every remaining image off as failed.
 */
import { ImageErrorCode, SystemErrorCode, VistaError, isVistaError, toVistaError } from '../errors';
import { isShared } from '../decode/pixel-slots';
import type { ClipModel, DecodedImage, EnrichedImage, ImageFailure, ShardEntry } from '../types';
import { annotateEmbeddings, type AnnotatedBatch, type ImageAnnotator, type NamingInput, type Tagger } from './annotations';

export type { Tagger } from './annotations';

export interface DecodedEntry {
  entry: ShardEntry;
  image: DecodedImage;
}

/** One outcome per input image, in input order. */
export type EnrichOutcome = { ok: true; row: EnrichedImage } | { ok: false; failure: ImageFailure };

export interface Enricher {
  readonly modelId: string;
  readonly taxonomyId: string;
  readonly embedDim: number;
  enrich(batch: DecodedEntry[]): Promise<EnrichOutcome[]>;
}

export function makeEnricher(deps: { model: ClipModel; tagger: Tagger; taxonomyId: string; annotator?: ImageAnnotator }): Enricher {
  const { model, tagger, taxonomyId, annotator } = deps;
  const dim = model.embedDim;
  const pixelsPerImage = 3 * model.preprocess.cropSize * model.preprocess.cropSize;

  const embed = async (batch: DecodedEntry[]): Promise<Float32Array[]> => {
    // Pixels in a decode pool's shared slots go to a model thread as they are: it packs the batch.
    if (model.embedImageList && batch.every((d) => isShared(d.image.pixels))) return model.embedImageList(batch.map((d) => d.image.pixels));
    const packed = new Float32Array(batch.length * pixelsPerImage);
    batch.forEach((d, i) => packed.set(d.image.pixels, i * pixelsPerImage));
    return model.embedImages(packed, batch.length);
  };

  const namingOf = ({ entry, image }: DecodedEntry): NamingInput => ({
    imageId: entry.imageId,
    format: image.format,
    ...(entry.hotelName !== undefined ? { hotelName: entry.hotelName } : {}),
    ...(entry.city !== undefined ? { city: entry.city } : {}),
  });

  const annotate = async (batch: DecodedEntry[]): Promise<AnnotatedBatch> => {
    if (annotator && batch.every((d) => isShared(d.image.pixels))) return annotator.annotate(batch.map((d) => d.image.pixels), batch.map(namingOf));
    return annotateEmbeddings(await embed(batch), dim, batch.map(namingOf), tagger);
  };

  const toRow = (d: DecodedEntry, a: AnnotatedBatch, i: number, processedAt: Date): EnrichedImage => {
    const [from, to] = [a.tagOffsets[i], a.tagOffsets[i + 1]];
    return {
      imageId: d.entry.imageId,
      sourceUri: d.entry.uri,
      ...(d.entry.hotelId !== undefined ? { hotelId: d.entry.hotelId } : {}),
      ...(d.entry.hotelName !== undefined ? { hotelName: d.entry.hotelName } : {}),
      ...(d.entry.city !== undefined ? { city: d.entry.city } : {}),
      seoFilename: a.seoFilenames[i],
      tags: a.tags.slice(from, to),
      tagScores: numbers(a.scores, from, to),
      embedding: a.embeddings.subarray(i * dim, (i + 1) * dim),
      width: d.image.width,
      height: d.image.height,
      format: d.image.format,
      contentSha256: d.image.contentSha256,
      modelId: model.id,
      taxonomyId,
      processedAt,
    };
  };

  async function enrichBatch(batch: DecodedEntry[]): Promise<EnrichOutcome[]> {
    const processedAt = new Date();
    try {
      const annotated = await annotate(batch);
      return batch.map((d, i) => ({ ok: true as const, row: toRow(d, annotated, i, processedAt) }));
    } catch (batchErr) {
      if (isModelGone(batchErr)) throw batchErr;
      if (batch.length === 1) {
        const d = batch[0];
        const message = toVistaError(batchErr, ImageErrorCode.MODEL_FAILED).message;
        return [{ ok: false, failure: { imageId: d.entry.imageId, sourceUri: d.entry.uri, errorCode: ImageErrorCode.MODEL_FAILED, message } }];
      }
      const outcomes: EnrichOutcome[] = [];
      for (const d of batch) outcomes.push(...(await enrichBatch([d])));
      if (outcomes.every((o) => !o.ok)) {
        throw new VistaError(SystemErrorCode.MODEL_UNAVAILABLE, `the model failed on each of ${batch.length} images alone: ${toVistaError(batchErr, ImageErrorCode.MODEL_FAILED).message}`, {
          cause: batchErr,
        });
      }
      return outcomes;
    }
  }

  return {
    modelId: model.id,
    taxonomyId,
    embedDim: model.embedDim,
    async enrich(batch) {
      try {
        return await enrichBatch(batch);
      } finally {
        // The model has read the pixels (or failed): their slots can take the next images.
        for (const d of batch) d.image.release?.();
      }
    },
  };
}

function numbers(values: Float64Array, from: number, to: number): number[] {
  const out = new Array<number>(to - from);
  for (let k = from; k < to; k++) out[k - from] = values[k];
  return out;
}

/** The model itself is gone (not this batch's images): MODEL_UNAVAILABLE. */
export function isModelGone(err: unknown): boolean {
  return isVistaError(err) && err.code === SystemErrorCode.MODEL_UNAVAILABLE;
}
