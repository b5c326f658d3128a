/**
 * Model → tagger / namer for one batch of decoded images. The same enricher serves the Batch
 * worker, the real-time path and the CLI. If the model fails on a batch, each image is retried
 * alone so one poisoned image costs one error row, not a batch. A model that is gone (its thread
 * died, the GPU was lost) is not the images' fault: that throws MODEL_UNAVAILABLE, which stops the
 * shard with a retryable exit instead of writing every remaining image off as failed.
 */
import { ImageErrorCode, SystemErrorCode, VistaError, isVistaError, toVistaError } from '../errors';
import { isShared } from '../decode/pixel-slots';
import { seoFilename } from '../naming/seo';
import type { ClipModel, DecodedImage, EnrichedImage, ImageFailure, ShardEntry } from '../types';

export interface DecodedEntry {
  entry: ShardEntry;
  image: DecodedImage;
}

export interface Tagger {
  tag(embedding: Float32Array): { tags: string[]; scores: number[] };
}

/** One outcome per input image, in input order. */
export type EnrichOutcome = { ok: true; row: EnrichedImage } | { ok: false; failure: ImageFailure };

export interface Enricher {
  readonly modelId: string;
  readonly taxonomyId: string;
  readonly embedDim: number;
  enrich(batch: DecodedEntry[]): Promise<EnrichOutcome[]>;
}

export function makeEnricher(deps: { model: ClipModel; tagger: Tagger; taxonomyId: string }): Enricher {
  const { model, tagger, taxonomyId } = deps;
  const pixelsPerImage = 3 * model.preprocess.cropSize * model.preprocess.cropSize;

  const embed = async (batch: DecodedEntry[]): Promise<Float32Array[]> => {
    // Pixels in a decode pool's shared slots go to a model thread as they are: it packs the batch.
    if (model.embedImageList && batch.every((d) => isShared(d.image.pixels))) return model.embedImageList(batch.map((d) => d.image.pixels));
    const packed = new Float32Array(batch.length * pixelsPerImage);
    batch.forEach((d, i) => packed.set(d.image.pixels, i * pixelsPerImage));
    return model.embedImages(packed, batch.length);
  };

  const toRow = (d: DecodedEntry, embedding: Float32Array, processedAt: Date): EnrichedImage => {
    const { tags, scores } = tagger.tag(embedding);
    return {
      imageId: d.entry.imageId,
      sourceUri: d.entry.uri,
      ...(d.entry.hotelId !== undefined ? { hotelId: d.entry.hotelId } : {}),
      ...(d.entry.hotelName !== undefined ? { hotelName: d.entry.hotelName } : {}),
      ...(d.entry.city !== undefined ? { city: d.entry.city } : {}),
      seoFilename: seoFilename({
        imageId: d.entry.imageId,
        format: d.image.format,
        hotelName: d.entry.hotelName,
        city: d.entry.city,
        tags,
      }),
      tags,
      tagScores: scores,
      embedding,
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
      const embeddings = await embed(batch);
      return batch.map((d, i) => ({ ok: true as const, row: toRow(d, embeddings[i], processedAt) }));
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

/** The model itself is gone (not this batch's images): MODEL_UNAVAILABLE. */
export function isModelGone(err: unknown): boolean {
  return isVistaError(err) && err.code === SystemErrorCode.MODEL_UNAVAILABLE;
}
