import { loadClipModel } from '../../lib/core/model';
import type { ClipModel } from '../../lib/core/types';
import { TINY_FP16_MODEL_DIR, TINY_MODEL_DIR } from '../support/models';

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i], 0);

/** Deterministic synthetic images in normalized CHW. */
function images(count: number, side: number, offset = 0): Float32Array {
  const n = 3 * side * side;
  const out = new Float32Array(count * n);
  for (let k = 0; k < count; k++) {
    const kind = (k + offset) % 4;
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < side; y++)
        for (let x = 0; x < side; x++) {
          const v = kind === 0 ? x / side : kind === 1 ? y / side : kind === 2 ? ((x >> 2) + (y >> 2)) % 2 : Math.sin(x * y + c + k);
          out[k * n + c * side * side + y * side + x] = v * 3 - 1.5 + c * 0.1 * (k + offset);
        }
  }
  return out;
}

describe('loadClipModel on the tiny fp32 model', () => {
  let model: ClipModel;
  const logLines: object[] = [];
  beforeAll(async () => {
    model = await loadClipModel(TINY_MODEL_DIR, { logger: (l) => logLines.push(l), intraOpThreads: 1 });
  });
  afterAll(() => model.close());

  it('reads identity, dimensions, preprocessing and logit scale from the configs', () => {
    expect(model.id).toMatch(/^tiny@[0-9a-f]{12}$/);
    expect(model.embedDim).toBe(32);
    expect(model.provider).toBe('cpu');
    expect(model.logitScale).toBe(100);
    expect(model.preprocess).toEqual({
      resizeShortestEdge: 32,
      cropSize: 32,
      mean: [0.48145466, 0.4578275, 0.40821073],
      std: [0.26862954, 0.26130258, 0.27577711],
      resample: 'cubic',
    });
  });

  it('logs exactly one line naming the provider', () => {
    expect(logLines).toHaveLength(1);
    expect(logLines[0]).toMatchObject({ event: 'model_loaded', provider: 'cpu', model_id: model.id, intra_op_threads: 1 });
  });

  it('embeds images into unit vectors; different images differ', async () => {
    const embeddings = await model.embedImages(images(4, 32), 4);
    expect(embeddings).toHaveLength(4);
    for (const e of embeddings) {
      expect(e).toHaveLength(32);
      expect(dot(e, e)).toBeCloseTo(1, 5);
    }
    for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) expect(dot(embeddings[i], embeddings[j])).toBeLessThan(0.999);
  });

  it('gives a batch the same embeddings as one image at a time', async () => {
    const count = 5;
    const pixels = images(count, 32, 1);
    const batch = await model.embedImages(pixels, count);
    const n = 3 * 32 * 32;
    for (let i = 0; i < count; i++) {
      const [single] = await model.embedImages(pixels.slice(i * n, (i + 1) * n), 1);
      single.forEach((v, d) => expect(Math.abs(v - batch[i][d])).toBeLessThan(1e-4));
    }
  });

  it('handles an empty batch and rejects a pixel buffer of the wrong size', async () => {
    expect(await model.embedImages(new Float32Array(0), 0)).toEqual([]);
    await expect(model.embedImages(new Float32Array(100), 1)).rejects.toMatchObject({ code: 'MODEL_FAILED' });
  });

  it('embeds texts into unit vectors, independent of what they are batched with', async () => {
    const texts = ['a photo of a hotel room with an ocean view', 'pool', 'a gym', 'hotel lobby '.repeat(40)];
    const batch = await model.embedTexts(texts);
    expect(batch).toHaveLength(4);
    for (const e of batch) expect(dot(e, e)).toBeCloseTo(1, 5);
    expect(dot(batch[0], batch[1])).toBeLessThan(0.999);
    for (let i = 0; i < texts.length; i++) {
      const [single] = await model.embedTexts([texts[i]]);
      single.forEach((v, d) => expect(Math.abs(v - batch[i][d])).toBeLessThan(1e-4));
    }
  });

  it('embeds more texts than one chunk holds', async () => {
    const texts = Array.from({ length: 300 }, (_, i) => `room ${i}`);
    const out = await model.embedTexts(texts);
    expect(out).toHaveLength(300);
    const [again] = await model.embedTexts([texts[299]]);
    again.forEach((v, d) => expect(Math.abs(v - out[299][d])).toBeLessThan(1e-4));
    expect(await model.embedTexts([])).toEqual([]);
  });
});

describe('loadClipModel on the tiny fp16 model', () => {
  it('feeds and reads float16 tensors and matches the fp32 model of the same seed', async () => {
    const fp16 = await loadClipModel(TINY_FP16_MODEL_DIR, { logger: () => undefined, provider: 'cpu' });
    const fp32 = await loadClipModel(TINY_MODEL_DIR, { logger: () => undefined, provider: 'cpu' });
    try {
      expect(fp16.id).toMatch(/^tiny-fp16@[0-9a-f]{12}$/);
      const pixels = images(3, 32);
      const [a, b] = await Promise.all([fp16.embedImages(pixels, 3), fp32.embedImages(pixels, 3)]);
      for (let i = 0; i < 3; i++) {
        expect(dot(a[i], a[i])).toBeCloseTo(1, 3);
        expect(dot(a[i], b[i])).toBeGreaterThan(0.99);
      }
      const [t16, t32] = await Promise.all([fp16.embedTexts(['ocean view']), fp32.embedTexts(['ocean view'])]);
      expect(dot(t16[0], t32[0])).toBeGreaterThan(0.99);
    } finally {
      await Promise.all([fp16.close(), fp32.close()]);
    }
  });
});
