import { ImageErrorCode, SystemErrorCode, VistaError } from '../../lib/core/errors';
import { makeEnricher, type DecodedEntry } from '../../lib/core/pipeline/enricher';
import type { ClipModel } from '../../lib/core/types';

const DIM = 2;
const CROP = 1;

/** A model whose embedImages is scripted per call: the enricher's failure handling is what's tested. */
function fakeModel(embed: (pixels: Float32Array, count: number) => Promise<Float32Array[]>): ClipModel {
  return {
    id: 'fake@1',
    embedDim: DIM,
    logitScale: 100,
    provider: 'cpu',
    preprocess: { resizeShortestEdge: CROP, cropSize: CROP, mean: [0, 0, 0], std: [1, 1, 1], resample: 'cubic' },
    embedImages: embed,
    embedTexts: async () => [],
    close: async () => undefined,
  };
}

const tagger = { tag: () => ({ tags: ['pool'], scores: [0.9] }) };
const batch = (n: number): DecodedEntry[] =>
  Array.from({ length: n }, (_, i) => ({
    entry: { index: i, uri: `/img/${i}.jpg`, imageId: `id-${i}` },
    // pixel value 1 marks a poisoned image for the fake model below
    image: { pixels: new Float32Array(3).fill(i === 2 ? 1 : 0), width: 1, height: 1, format: 'jpeg', contentSha256: 'sha' },
  }));

describe('enricher failure handling', () => {
  it('retries a failed batch image by image, so one poisoned image costs one MODEL_FAILED row', async () => {
    const model = fakeModel(async (pixels, count) => {
      if (pixels.some((v) => v === 1)) throw new Error('NaN in output');
      return Array.from({ length: count }, () => Float32Array.of(1, 0));
    });
    const outcomes = await makeEnricher({ model, tagger, taxonomyId: 't@1' }).enrich(batch(4));
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, false, true]);
    expect(outcomes[2]).toMatchObject({ ok: false, failure: { imageId: 'id-2', errorCode: ImageErrorCode.MODEL_FAILED } });
  });

  it('throws MODEL_UNAVAILABLE when every image of a batch also fails alone (the model, not the images)', async () => {
    const model = fakeModel(async () => {
      throw new Error('CUDA error: device lost');
    });
    await expect(makeEnricher({ model, tagger, taxonomyId: 't@1' }).enrich(batch(4))).rejects.toMatchObject({
      code: SystemErrorCode.MODEL_UNAVAILABLE,
      message: expect.stringContaining('device lost'),
    });
  });

  it('passes MODEL_UNAVAILABLE straight through without per-image retries', async () => {
    let calls = 0;
    const model = fakeModel(async () => {
      calls++;
      throw new VistaError(SystemErrorCode.MODEL_UNAVAILABLE, 'model thread stopped');
    });
    await expect(makeEnricher({ model, tagger, taxonomyId: 't@1' }).enrich(batch(4))).rejects.toMatchObject({ code: SystemErrorCode.MODEL_UNAVAILABLE });
    expect(calls).toBe(1);
  });
});
