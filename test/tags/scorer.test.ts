import { SystemErrorCode } from '../../lib/core/errors';
import {
  bankRows,
  computeLabelBank,
  defaultTaxonomy,
  makeTagger,
  parseTaxonomy,
  resolveTaxonomy,
  taxonomyId,
  type LabelBank,
  type Taxonomy,
} from '../../lib/core/tags';
import { seededRandom } from '../support/fixtures';
import { fakeClip } from './fake-clip';

const DIM = 16;
const SCALE = 100;

/**
 * Rows are basis vectors in bank order: room a,b,c → e0..e2; view x,y,background → e3..e5;
 * amenities p,q,r,background → e6..e9.
 */
function handTaxonomy(overrides: { viewThreshold?: number; pThreshold?: number } = {}): Taxonomy {
  return parseTaxonomy({
    id: 'hand',
    version: 1,
    templates: ['{label}'],
    categories: [
      { name: 'room', exclusive: true, labels: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] },
      { name: 'view', exclusive: true, threshold: overrides.viewThreshold ?? 0.5, background: ['nothing'], labels: [{ name: 'x' }, { name: 'y' }] },
      {
        name: 'amenities',
        exclusive: false,
        background: ['generic'],
        labels: [{ name: 'p', threshold: overrides.pThreshold ?? 0.5 }, { name: 'q' }, { name: 'r' }],
      },
    ],
  });
}

function basisBank(taxonomy: Taxonomy): LabelBank {
  const rows = bankRows(resolveTaxonomy(taxonomy));
  const vectors = new Float32Array(rows.length * DIM);
  rows.forEach((_, i) => (vectors[i * DIM + i] = 1));
  return { modelId: 'hand', taxonomyId: taxonomyId(taxonomy), dim: DIM, rows, vectors };
}

/** A unit vector with the given weights on basis directions. */
function embedding(weights: Record<number, number>): Float32Array {
  const v = new Float32Array(DIM);
  for (const [k, w] of Object.entries(weights)) v[Number(k)] = w;
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('makeTagger', () => {
  const taxonomy = handTaxonomy();
  const tagger = makeTagger(basisBank(taxonomy), taxonomy, SCALE);

  it('gives an exclusive category to the label the image equals, with its softmax probability', () => {
    const e = embedding({ 1: 1 });
    const { tags, scores } = tagger.tag(e);
    expect(tags).toContain('b');
    const expected = Math.exp(SCALE) / (Math.exp(SCALE) + 2); // cos 1 against b, 0 against a and c
    expect(scores[tags.indexOf('b')]).toBeCloseTo(expected, 12);
    expect(tags.filter((t) => ['a', 'b', 'c'].includes(t))).toEqual(['b']);
  });

  it('softmax probabilities of an exclusive category (with its background) sum to 1', () => {
    const random = seededRandom(7);
    for (let n = 0; n < 50; n++) {
      const e = Float32Array.from({ length: DIM }, () => random() - 0.5);
      const norm = Math.hypot(...e);
      const explained = tagger.explain(e.map((x) => x / norm));
      for (const c of explained.filter((c) => c.exclusive)) {
        const total = c.labels.reduce((s, l) => s + l.probability, 0) + (c.background ?? 0);
        expect(total).toBeCloseTo(1, 12);
      }
    }
  });

  it('emits no view when the background wins, and no multi-label tag below its background', () => {
    const { tags } = tagger.tag(embedding({ 5: 1, 9: 1 }));
    for (const t of ['x', 'y', 'p', 'q', 'r']) expect(tags).not.toContain(t);
    const view = tagger.explain(embedding({ 5: 1 })).find((c) => c.category === 'view')!;
    expect(view.background).toBeGreaterThan(0.99);
  });

  it('scores a multi-label tag as a 2-way softmax against the background', () => {
    const e = embedding({ 6: 0.3, 9: 0.25, 7: 0.9 });
    const [p] = tagger.explain(e).find((c) => c.category === 'amenities')!.labels;
    expect(p.probability).toBeCloseTo(sigmoid(SCALE * (e[6] - e[9])), 12);
    const { tags, scores } = tagger.tag(e);
    expect(tags).toEqual(expect.arrayContaining(['p', 'q']));
    expect(scores[tags.indexOf('p')]).toBeCloseTo(p.probability, 12);
    expect(tags).not.toContain('r');
  });

  it('respects thresholds exactly at the probability', () => {
    const e = embedding({ 6: 0.3, 9: 0.29 });
    const probability = tagger.explain(e).find((c) => c.category === 'amenities')!.labels[0].probability;
    const at = (threshold: number) => {
      const t = handTaxonomy({ pThreshold: threshold });
      return makeTagger(basisBank(t), t, SCALE).tag(e).tags.includes('p');
    };
    expect(at(probability - 1e-9)).toBe(true);
    expect(at(probability + 1e-9)).toBe(false);
  });

  it('applies the exclusive threshold to the winner', () => {
    const e = embedding({ 3: 0.5, 4: 0.49 }); // x barely beats y: p(x) a little over 0.5
    const px = tagger.explain(e).find((c) => c.category === 'view')!.labels[0].probability;
    expect(px).toBeGreaterThan(0.5);
    const strict = handTaxonomy({ viewThreshold: Math.min(0.99, px + 0.05) });
    expect(tagger.tag(e).tags).toContain('x');
    expect(makeTagger(basisBank(strict), strict, SCALE).tag(e).tags).not.toContain('x');
  });

  it('sorts tags by score, keeps taxonomy order on ties, and is stable across calls', () => {
    const e = embedding({ 0: 1, 3: 1, 6: 0.5, 7: 0.5, 8: 0.2, 9: 0.1 });
    const first = tagger.tag(e);
    expect([...first.scores].sort((a, b) => b - a)).toEqual(first.scores);
    expect(first.tags.indexOf('p')).toBeLessThan(first.tags.indexOf('q'));
    expect(first.scores[first.tags.indexOf('p')]).toBe(first.scores[first.tags.indexOf('q')]);
    tagger.tag(embedding({ 2: 1 }));
    expect(tagger.tag(e)).toEqual(first);
  });

  it('tagBatch tags each embedding', () => {
    const batch = [embedding({ 0: 1 }), embedding({ 4: 1, 8: 1 }), embedding({ 2: 1 })];
    expect(tagger.tagBatch(batch)).toEqual(batch.map((e) => tagger.tag(e)));
  });

  it('refuses embeddings of another size, banks of another taxonomy and bad logit scales', () => {
    expect(() => tagger.tag(new Float32Array(DIM + 1))).toThrow(expect.objectContaining({ code: SystemErrorCode.MODEL_INVALID }));
    const other = handTaxonomy({ pThreshold: 0.9 });
    expect(() => makeTagger(basisBank(taxonomy), other, SCALE)).toThrow(expect.objectContaining({ code: SystemErrorCode.TAXONOMY_INVALID }));
    expect(() => makeTagger(basisBank(taxonomy), taxonomy, 0)).toThrow(expect.objectContaining({ code: SystemErrorCode.MODEL_INVALID }));
  });
});

describe('default taxonomy with a label bank', () => {
  it('tags an image whose embedding is a label embedding with that label', async () => {
    const taxonomy = defaultTaxonomy();
    const bank = await computeLabelBank(fakeClip({ dim: 512 }), taxonomy);
    const tagger = makeTagger(bank, taxonomy, SCALE);
    for (const tag of ['ocean-view', 'family-room']) {
      const row = bank.rows.findIndex((r) => r.label === tag);
      const { tags } = tagger.tag(bank.vectors.slice(row * 512, (row + 1) * 512));
      expect(tags).toContain(tag);
      expect(new Set(tags).size).toBe(tags.length);
    }
  });
});
