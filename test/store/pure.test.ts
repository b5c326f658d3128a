import { Field, FixedSizeList, Float16, Float32, makeData, makeVector, util, vectorFromArray } from 'apache-arrow';
import { recallAtK, percentile, ExactTopK } from '../../bench/store-recall';
import { needsProcessCommitLock, serialized } from '../../lib/core/store/commit-lock';
import { isCommitConflict } from '../../lib/core/store/commit-retry';
import { nextLoadId } from '../../lib/core/store/ledger';
import { allTagsFilter } from '../../lib/core/store/search';
import { embeddingFromArrow, groupByHotel, normalize, tagsFilterFirst, userVector, type SearchResult } from '../../lib/core/store/vectors';

const result = (imageId: string, hotelId: string | null, score: number): SearchResult => ({
  imageId, hotelId, hotelName: null, city: null, score, seoFilename: `${imageId}.jpg`, tags: [], tagScores: [], sourceUri: `s3://b/${imageId}`,
});

describe('userVector', () => {
  test('is the normalized mean of the normalized embeddings', () => {
    const v = userVector([Float32Array.of(3, 0), Float32Array.of(0, 0.5)]);
    expect(v[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(v[1]).toBeCloseTo(Math.SQRT1_2, 6);
  });
  test('a single embedding is itself, normalized', () => {
    expect(Array.from(userVector([Float32Array.of(0, 2, 0)]))).toEqual([0, 1, 0]);
  });
  test('refuses nothing and mixed widths', () => {
    expect(() => userVector([])).toThrow();
    expect(() => userVector([Float32Array.of(1, 0), Float32Array.of(1, 0, 0)])).toThrow(/widths/);
  });
  test('normalize leaves a zero vector at zero', () => {
    expect(Array.from(normalize(new Float32Array(3)))).toEqual([0, 0, 0]);
  });
});

describe('groupByHotel', () => {
  const results = [result('a', 'h1', 0.9), result('b', 'h2', 0.95), result('c', 'h1', 0.8), result('d', null, 0.99), result('e', 'h1', 0.7), result('f', 'h3', 0.6)];
  test('ranks hotels by their best image and keeps at most perHotel images each, best first', () => {
    const groups = groupByHotel(results, 2);
    expect(groups.map((g) => [g.hotelId, g.score, g.images.map((i) => i.imageId)])).toEqual([
      ['h2', 0.95, ['b']],
      ['h1', 0.9, ['a', 'c']],
      ['h3', 0.6, ['f']],
    ]);
  });
  test('images without a hotel are left out', () => {
    expect(groupByHotel([result('d', null, 1)])).toEqual([]);
  });
});

test('float16 embeddings decode from their bits, float32 ones pass through', () => {
  const values = [0.5, -0.25, 0.1];
  const bits = Uint16Array.from(values.map((x) => util.float64ToUint16(x)));
  const f16 = makeVector(
    makeData({
      type: new FixedSizeList(3, new Field('item', new Float16(), true)),
      length: 1,
      nullCount: 0,
      child: makeData({ type: new Float16(), length: 3, nullCount: 0, data: bits }),
    }),
  );
  const decoded = embeddingFromArrow(f16.get(0));
  expect(decoded[0]).toBe(0.5);
  expect(decoded[1]).toBe(-0.25);
  expect(decoded[2]).toBeCloseTo(0.1, 3);
  const f32 = vectorFromArray([values], new FixedSizeList(3, new Field('item', new Float32(), true)));
  expect(Array.from(embeddingFromArrow(f32.get(0)))).toEqual(Array.from(Float32Array.from(values)));
});

test('tag filters require every tag, deduplicated and quoted', () => {
  expect(allTagsFilter([])).toBeUndefined();
  expect(allTagsFilter(['pool', "kid's club", 'pool'])).toBe("array_has_all(tags, ['pool', 'kid''s club'])");
});

test('load ids sort after every attempt already in the ledger', () => {
  const first = nextLoadId({ started: [] });
  expect(first).toMatch(/^0000000001-[0-9a-f]{8}$/);
  const second = nextLoadId({ started: [first] });
  expect(second > first).toBe(true);
  const tenth = nextLoadId({ started: ['0000000009-ffffffff'] });
  expect(tenth.startsWith('0000000010-')).toBe(true);
  expect(tenth > '0000000009-ffffffff').toBe(true);
});

test('commit conflicts are recognised by message, other errors are not', () => {
  expect(isCommitConflict(new Error('Retryable commit conflict for version 7'))).toBe(true);
  expect(isCommitConflict({ message: 'Commit conflict for version 3: This Delete transaction is incompatible' })).toBe(true);
  expect(isCommitConflict(new Error('Not found: images.lance'))).toBe(false);
});

describe('process commit lock', () => {
  test('only for S3 behind a non-AWS endpoint', () => {
    expect(needsProcessCommitLock('s3://b/db', 'http://127.0.0.1:4568')).toBe(true);
    expect(needsProcessCommitLock('s3://b/db', 'https://s3.eu-west-1.amazonaws.com')).toBe(false);
    expect(needsProcessCommitLock('s3://b/db', undefined)).toBe(false);
    expect(needsProcessCommitLock('/tmp/db', 'http://127.0.0.1:4568')).toBe(false);
  });

  test('an endpoint declared to enforce conditional writes needs no lock; one declared not to always does', () => {
    expect(needsProcessCommitLock('s3://b/db', 'http://127.0.0.1:4568', 'true')).toBe(false);
    expect(needsProcessCommitLock('s3://b/db', undefined, 'false')).toBe(true);
    expect(needsProcessCommitLock('/tmp/db', undefined, 'false')).toBe(false);
  });

  test('runs ops of one key one at a time, in order, past failures', async () => {
    const events: string[] = [];
    const op = (name: string, ms: number, fail = false) => async () => {
      events.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      events.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    };
    const runs = [serialized('k', op('a', 20)), serialized('k', op('b', 1, true)), serialized('k', op('c', 1)), serialized('other', op('x', 1))];
    const settled = await Promise.allSettled(runs);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const k = events.filter((e) => !e.endsWith('x'));
    expect(k).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(events.indexOf('end x')).toBeLessThan(events.indexOf('end a'));
  });
});

describe('benchmark arithmetic', () => {
  test('recall@k is the mean overlap with the truth', () => {
    expect(recallAtK([['a', 'b'], ['c', 'x']], [['a', 'b'], ['c', 'd']])).toBe(0.75);
  });
  test('percentiles are nearest-rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
  });
  test('exact top-k over unit vectors, fed in parts', () => {
    const q = [Float32Array.of(1, 0)];
    const top = new ExactTopK(q, 2);
    top.add(Float32Array.of(0, 1, Math.SQRT1_2, Math.SQRT1_2), ['far', 'mid']);
    top.add(Float32Array.of(1, 0), ['same']);
    expect(top.ids()).toEqual([['same', 'mid']]);
  });
});

describe('tagsFilterFirst', () => {
  it('moves the filter tags to the front and keeps every tag once, in order', () => {
    expect(tagsFilterFirst(['pool', 'spa', 'beach', 'gym'], ['gym', 'spa'])).toEqual(['spa', 'gym', 'pool', 'beach']);
    expect(tagsFilterFirst(['pool', 'spa'], [])).toEqual(['pool', 'spa']);
    expect(tagsFilterFirst(['pool'], ['absent'])).toEqual(['pool']);
  });
});
