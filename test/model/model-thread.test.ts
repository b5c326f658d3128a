import { loadClipModel } from '../../lib/core/model';
import { loadClipModelInThread, type ThreadedClipModel } from '../../lib/core/model/model-thread';
import { annotateEmbeddings } from '../../lib/core/pipeline/annotations';
import { computeLabelBank, makeTagger, parseTaxonomy } from '../../lib/core/tags';
import type { ClipModel } from '../../lib/core/types';
import { TINY_MODEL_DIR } from '../support/models';

const quiet = { logger: () => {} };

describe('loadClipModelInThread', () => {
  let threaded: ThreadedClipModel;
  let local: ClipModel;
  beforeAll(async () => {
    threaded = await loadClipModelInThread(TINY_MODEL_DIR, quiet);
    local = await loadClipModel(TINY_MODEL_DIR, quiet);
  });
  afterAll(async () => {
    await threaded?.close();
    await local?.close();
  });

  it('describes the same model and gives the same embeddings as the model in this thread', async () => {
    expect({ id: threaded.id, dim: threaded.embedDim, scale: threaded.logitScale, pre: threaded.preprocess }).toEqual({
      id: local.id, dim: local.embedDim, scale: local.logitScale, pre: local.preprocess,
    });
    const n = 3 * threaded.preprocess.cropSize ** 2;
    const pixels = Float32Array.from({ length: 3 * n }, (_, i) => Math.sin(i / 7));
    const [a, b] = [await threaded.embedImages(pixels.slice(), 3), await local.embedImages(pixels.slice(), 3)];
    expect(a).toHaveLength(3);
    a.forEach((e, i) => e.forEach((v, j) => expect(v).toBeCloseTo(b[i][j], 6)));
    const texts = ['an ocean view', 'a rooftop pool'];
    const [ta, tb] = [await threaded.embedTexts(texts), await local.embedTexts(texts)];
    ta.forEach((e, i) => e.forEach((v, j) => expect(v).toBeCloseTo(tb[i][j], 6)));
  });

  it('tags and names in the thread exactly as in process: same embeddings, tags, scores and names, in columns', async () => {
    // Thresholds of 0 make every multi-label tag fire, so there are tags to compare.
    const taxonomy = parseTaxonomy({
      version: 1,
      background: ['a photo of a hotel.'],
      categories: [
        { name: 'view', exclusive: false, threshold: 0, labels: [{ name: 'ocean-view' }, { name: 'city-view' }, { name: 'garden-view' }] },
        { name: 'room', exclusive: true, threshold: 0, labels: [{ name: 'suite' }, { name: 'twin-room' }] },
      ],
    });
    const bank = await computeLabelBank(local, taxonomy);
    const annotator = await threaded.annotatorFor(bank, taxonomy);
    const n = 3 * threaded.preprocess.cropSize ** 2;
    const images = [1, 2, 3].map((k) => {
      const slot = new Float32Array(new SharedArrayBuffer(n * 4));
      slot.set(Float32Array.from({ length: n }, (_, i) => Math.sin(i / (3 + k))));
      return slot;
    });
    const naming = [
      { imageId: 'a', format: 'jpeg' as const, hotelName: 'Grand Hôtel', city: 'Nice' },
      { imageId: 'b', format: 'png' as const },
      { imageId: 'c', format: 'webp' as const, city: 'Lisbon' },
    ];
    const got = await annotator.annotate(images, naming);
    const packed = new Float32Array(3 * n);
    images.forEach((im, i) => packed.set(im, i * n));
    const expected = annotateEmbeddings(await local.embedImages(packed, 3), local.embedDim, naming, makeTagger(bank, taxonomy, local.logitScale));
    expect(got.tags.length).toBeGreaterThanOrEqual(9);
    expect({ ...got, embeddings: [...got.embeddings] }).toEqual({ ...expected, embeddings: [...expected.embeddings] });
  });

  it('serves concurrent requests in order without mixing results', async () => {
    const n = 3 * threaded.preprocess.cropSize ** 2;
    const inputs = [1, 2, 3, 4].map((k) => Float32Array.from({ length: n }, (_, i) => Math.cos(i * k)));
    const expected = await Promise.all(inputs.map((p) => local.embedImages(p.slice(), 1)));
    const got = await Promise.all(inputs.map((p) => threaded.embedImages(p.slice(), 1)));
    got.forEach((g, k) => g[0].forEach((v, j) => expect(v).toBeCloseTo(expected[k][0][j], 6)));
  });

  it('reports a typed error for a bad request and for a missing model', async () => {
    await expect(threaded.embedImages(new Float32Array(5), 1)).rejects.toMatchObject({ code: 'MODEL_FAILED' });
    await expect(loadClipModelInThread('/no/such/model', quiet)).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });

  it('after close, calls fail as MODEL_UNAVAILABLE (the model is gone, not the image at fault)', async () => {
    const model = await loadClipModelInThread(TINY_MODEL_DIR, quiet);
    await model.close();
    await expect(model.embedImages(new Float32Array(3 * model.preprocess.cropSize ** 2), 1)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });
});
