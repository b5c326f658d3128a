/**
 * The re-tag's buffer-level pieces against the plain ways of doing the same thing: Arrow columns
 * built from typed arrays read back as the tags and scores they encode, strings are counted and
 * compared by bytes as they would be as JS strings, and the batch scorer (onnxruntime, float64)
 * tags every row as the worker's per-image tagger does.
 */
import { Field, List, Utf8, makeVector, util, vectorFromArray } from 'apache-arrow';
import { StringCounter, firstDifferent, labelBytes, rowTags, scoresData, tagsData } from '../../lib/core/catalog/retag-columns';
import { emitBlock, makeBankProduct } from '../../lib/core/catalog/retag-score';
import { float32ToFloat16 } from '../../lib/core/model/float16';
import { makeTagger, planTagging } from '../../lib/core/tags';
import { seededRandom } from '../../lib/core/random';
import { syntheticBank, syntheticTaxonomy } from './synthetic-bank';

const listOfUtf8 = new List(new Field('item', new Utf8(), true));

test('tags and tag_scores built from offsets and label indices read back per row', () => {
  const labels = ['pool', 'spa', 'café-terrasse'];
  const block = { rows: 3, offsets: Int32Array.of(0, 2, 2, 3), labels: Int32Array.of(2, 0, 1), scores: Float32Array.of(0.9, 0.5, 0.7) };
  const tags = makeVector(tagsData(block, labelBytes(labels)));
  const scores = makeVector(scoresData(block));
  expect([...tags].map((t) => [...(t as Iterable<string>)])).toEqual([['café-terrasse', 'pool'], [], ['spa']]);
  expect([...scores].map((s) => [...(s as Iterable<number>)])).toEqual([[Math.fround(0.9), Math.fround(0.5)], [], [Math.fround(0.7)]]);
  expect(rowTags(block, labels, 0)).toEqual(['café-terrasse', 'pool']);
});

test('strings are counted and compared by their bytes as JS strings would be', () => {
  const random = seededRandom(5);
  const words = ['pool', 'spa', 'spb', 'gym', 'café', 'caf', ''];
  const rows = Array.from({ length: 500 }, () => Array.from({ length: Math.floor(random() * 5) }, () => words[Math.floor(random() * words.length)]));
  const expected: Record<string, number> = {};
  for (const row of rows) for (const w of row) expected[w] = (expected[w] ?? 0) + 1;
  const counter = new StringCounter();
  counter.add(vectorFromArray(rows.slice(0, 200), listOfUtf8));
  counter.add(vectorFromArray(rows.slice(200), listOfUtf8).slice(0)); // a second batch
  const counted: Record<string, number> = {};
  counter.into(counted);
  expect(counted).toEqual(expected);

  const models = vectorFromArray(['clip-a', 'clip-a', 'clip-ab', 'clip-a'], new Utf8());
  expect(firstDifferent(models, 'clip-a')).toBe(2);
  expect(firstDifferent(models.slice(0, 2), 'clip-a')).toBe(-1);
  expect(firstDifferent(vectorFromArray(['clip-b'], new Utf8()), 'clip-a')).toBe(0);
});

test('the batch scorer tags every row as the per-image tagger does, float32 and float16', async () => {
  const dim = 32;
  const taxonomy = syntheticTaxonomy(0.3);
  const bank = syntheticBank(taxonomy, dim);
  const tagger = makeTagger(bank, taxonomy, 100);
  const plan = planTagging(bank, taxonomy);
  const random = seededRandom(11);
  const rows = 300;
  const values = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let norm = 0;
    for (let k = 0; k < dim; k++) norm += (values[r * dim + k] = random() - 0.5) ** 2;
    for (let k = 0; k < dim; k++) values[r * dim + k] /= Math.sqrt(norm);
  }
  const product = makeBankProduct(bank, 100);
  try {
    const half = float32ToFloat16(values);
    const fromHalf = new Float32Array(rows * dim);
    // What the worker's tagger would see of a float16 store: the decoded values.
    for (let i = 0; i < half.length; i++) fromHalf[i] = util.uint16ToFloat64(half[i]);
    for (const [input, reference] of [
      [values, values],
      [half, fromHalf],
    ] as const) {
      const after = new Int32Array(plan.labels.length);
      const block = emitBlock(plan, await product.logits({ rows, dim, values: input }), rows, after);
      let hits = 0;
      for (let r = 0; r < rows; r++) {
        const expected = tagger.tag(reference.subarray(r * dim, (r + 1) * dim));
        expect(rowTags(block, plan.labels, r)).toEqual(expected.tags);
        const scores = block.scores.subarray(block.offsets[r], block.offsets[r + 1]);
        expected.scores.forEach((score, i) => expect(Math.abs(scores[i] - Math.fround(score))).toBeLessThanOrEqual(1e-7));
        hits += expected.tags.length;
      }
      expect(hits).toBeGreaterThan(rows / 2); // the comparison is not of empty lists
      expect(after.reduce((a, b) => a + b, 0)).toBe(hits);
    }
  } finally {
    await product.close();
  }
});
