import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SystemErrorCode } from '../../lib/core/errors';
import { readBytes } from '../../lib/core/io/location';
import {
  bankRows,
  computeLabelBank,
  decodeLabelBank,
  defaultTaxonomy,
  encodeLabelBank,
  getLabelBank,
  labelBankUri,
  parseTaxonomy,
  resolveTaxonomy,
  taxonomyId,
  type Taxonomy,
} from '../../lib/core/tags';
import { startS3 } from '../support/s3';
import { fakeClip, textVector } from './fake-clip';

const small = (): Taxonomy =>
  parseTaxonomy({
    id: 'small',
    version: 1,
    background: ['a photo of a hotel.', 'a photo.'],
    categories: [
      { name: 'view', exclusive: true, labels: [{ name: 'ocean-view', prompts: ['an ocean view.', 'the sea from a window.'] }, { name: 'city-view' }] },
      { name: 'amenities', exclusive: false, labels: [{ name: 'bathtub', prompts: ['a bathtub.'] }] },
    ],
  });

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('computeLabelBank', () => {
  it('makes each row the re-normalized mean of its prompt embeddings, backgrounds included', async () => {
    const model = fakeClip({ dim: 32 });
    const taxonomy = small();
    const bank = await computeLabelBank(model, taxonomy);
    expect(bank.rows).toEqual(bankRows(resolveTaxonomy(taxonomy)));
    expect(bank.vectors.length).toBe(bank.rows.length * 32);

    const expected = (texts: string[]) => {
      const sum = new Float32Array(32);
      for (const t of texts) textVector(t, 32).forEach((x, k) => (sum[k] += x));
      return sum.map((x) => x / norm(sum));
    };
    const row = (i: number) => bank.vectors.subarray(i * 32, (i + 1) * 32);
    const ocean = bank.rows.findIndex((r) => r.label === 'ocean-view');
    const background = bank.rows.findIndex((r) => r.category === 'amenities' && r.label === null);
    for (const [i, texts] of [[ocean, ['an ocean view.', 'the sea from a window.']], [background, ['a photo of a hotel.', 'a photo.']]] as const) {
      Array.from(row(i)).forEach((x, k) => expect(x).toBeCloseTo(expected([...texts])[k], 6));
      expect(norm(row(i))).toBeCloseTo(1, 6);
    }
  });

  it('embeds each distinct prompt once, in batches of at most 64', async () => {
    const model = fakeClip();
    const taxonomy = defaultTaxonomy();
    await computeLabelBank(model, taxonomy);
    const sent = model.textCalls.flat();
    const distinct = new Set(resolveTaxonomy(taxonomy).flatMap((c) => [...c.labels.flatMap((l) => l.prompts), ...c.background]));
    expect(sent.length).toBe(distinct.size);
    expect(new Set(sent).size).toBe(sent.length);
    expect(model.textCalls.length).toBeGreaterThan(1);
    expect(Math.max(...model.textCalls.map((texts) => texts.length))).toBeLessThanOrEqual(64);
  });

  it('refuses text embeddings of the wrong size, count or value', async () => {
    const wrongSize = fakeClip({ dim: 16, embedTexts: (t) => t.map((x) => textVector(x, 8)) });
    const tooFew = fakeClip({ dim: 16, embedTexts: (t) => t.slice(1).map((x) => textVector(x, 16)) });
    const zero = fakeClip({ dim: 16, embedTexts: (t) => t.map(() => new Float32Array(16)) });
    for (const model of [wrongSize, tooFew, zero]) {
      await expect(computeLabelBank(model, small())).rejects.toMatchObject({ code: SystemErrorCode.MODEL_INVALID });
    }
  });
});

describe('label bank file', () => {
  it('round-trips and rejects truncated or foreign bytes', async () => {
    const bank = await computeLabelBank(fakeClip({ dim: 24 }), small());
    const bytes = encodeLabelBank(bank);
    expect(decodeLabelBank(bytes)).toEqual(bank);
    expect(decodeLabelBank(bytes.subarray(0, bytes.length - 4))).toBeUndefined();
    expect(decodeLabelBank(Buffer.from('{"not":"a bank"}'))).toBeUndefined();
    // A changed vector no longer matches the recorded checksum: refused, not rebuilt.
    const nan = Buffer.from(bytes);
    nan.writeFloatLE(Number.NaN, nan.length - 4);
    expect(() => decodeLabelBank(nan)).toThrow(expect.objectContaining({ code: SystemErrorCode.LABEL_BANK_INVALID }));
  });
});

describe('getLabelBank', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-label-bank-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('computes once per (model, taxonomy), then reads the cache without calling the model', async () => {
    const taxonomy = defaultTaxonomy();
    const first = fakeClip();
    const bank = await getLabelBank(first, taxonomy, dir);
    expect(first.textCalls.length).toBeGreaterThan(0);
    const file = path.join(dir, 'label-banks', `fake-clip@0123456789ab__${taxonomyId(taxonomy)}.bin`);
    expect(labelBankUri(dir, first.id, taxonomyId(taxonomy))).toBe(file);
    await expect(fs.stat(file)).resolves.toBeTruthy();

    const second = fakeClip();
    expect(await getLabelBank(second, taxonomy, dir, { verifyRows: 0 })).toEqual(bank);
    expect(second.textCalls).toEqual([]);
    // By default a reader re-embeds the prompts of 8 rows to check the bank against the model.
    const third = fakeClip();
    expect(await getLabelBank(third, taxonomy, dir)).toEqual(bank);
    const rowsPrompts = resolveTaxonomy(taxonomy).flatMap((c) => [...c.labels.map((l) => l.prompts.length), ...(c.background.length ? [c.background.length] : [])]);
    expect(third.textCalls.flat().length).toBeGreaterThan(0);
    expect(third.textCalls.flat().length).toBeLessThanOrEqual(Math.max(...rowsPrompts) * 8);
  });

  it('refuses a bank whose header names another model or taxonomy than its file name', async () => {
    const bank = await getLabelBank(fakeClip(), small(), dir);
    const file = labelBankUri(dir, bank.modelId, bank.taxonomyId);
    const foreign = await computeLabelBank(fakeClip({ id: 'other-clip@ffff' }), small());
    await fs.writeFile(file, encodeLabelBank(foreign));
    await expect(getLabelBank(fakeClip(), small(), dir)).rejects.toMatchObject({ code: SystemErrorCode.LABEL_BANK_INVALID, message: expect.stringContaining('built for model other-clip@ffff') });
    await fs.writeFile(file, encodeLabelBank({ ...bank, taxonomyId: 'small@000000000000' }));
    await expect(getLabelBank(fakeClip(), small(), dir)).rejects.toMatchObject({ code: SystemErrorCode.LABEL_BANK_INVALID, message: expect.stringContaining('built for taxonomy') });
  });

  it('refuses a tampered bank: vectors changed after writing, or poisoned with a recomputed checksum', async () => {
    const bank = await getLabelBank(fakeClip(), small(), dir);
    const file = labelBankUri(dir, bank.modelId, bank.taxonomyId);
    const bytes = await fs.readFile(file);
    bytes.writeFloatLE(0.5, bytes.length - 8);
    await fs.writeFile(file, bytes);
    await expect(getLabelBank(fakeClip(), small(), dir)).rejects.toMatchObject({ code: SystemErrorCode.LABEL_BANK_INVALID, message: expect.stringContaining('checksum') });

    // One row swapped for another's vector, checksum recomputed by the writer: the model disagrees.
    const poisoned = { ...bank, vectors: Float32Array.from(bank.vectors) };
    poisoned.vectors.set(bank.vectors.subarray(0, bank.dim), bank.dim);
    await fs.writeFile(file, encodeLabelBank(poisoned));
    await expect(getLabelBank(fakeClip(), small(), dir, { verifyRows: Infinity })).rejects.toMatchObject({ code: SystemErrorCode.LABEL_BANK_INVALID, message: expect.stringContaining('row 1') });
    // The file is left for an operator to look at, not replaced.
    expect(decodeLabelBank(await fs.readFile(file))).toEqual(poisoned);
  });

  it('keys the cache by model and taxonomy content', async () => {
    await getLabelBank(fakeClip(), small(), dir);
    const otherModel = fakeClip({ id: 'other-clip@ffff' });
    await getLabelBank(otherModel, small(), dir);
    expect(otherModel.textCalls.length).toBeGreaterThan(0);

    const changed = small();
    changed.categories[1].labels[0].prompts = ['a bathtub.', 'a bath.'];
    const again = fakeClip();
    const bank = await getLabelBank(again, changed, dir);
    expect(again.textCalls.length).toBeGreaterThan(0);
    expect(bank.taxonomyId).toBe(taxonomyId(changed));
    expect((await fs.readdir(path.join(dir, 'label-banks'))).length).toBe(3);
  });

  it('rebuilds a corrupt cache file', async () => {
    const bank = await getLabelBank(fakeClip(), small(), dir);
    const file = labelBankUri(dir, bank.modelId, bank.taxonomyId);
    await fs.writeFile(file, 'garbage');
    const model = fakeClip();
    expect(await getLabelBank(model, small(), dir)).toEqual(bank);
    expect(model.textCalls.length).toBeGreaterThan(0);
    expect(decodeLabelBank(await fs.readFile(file))).toEqual(bank);
  });

  it('caches under an S3 prefix', async () => {
    const s3 = await startS3();
    try {
      const prefix = `${await s3.bucket('artifacts')}/cache`;
      const first = fakeClip();
      const bank = await getLabelBank(first, small(), prefix);
      expect(decodeLabelBank(await readBytes(labelBankUri(prefix, bank.modelId, bank.taxonomyId)))).toEqual(bank);
      const second = fakeClip();
      expect(await getLabelBank(second, small(), prefix, { verifyRows: 0 })).toEqual(bank);
      expect(second.textCalls).toEqual([]);
    } finally {
      await s3.stop();
    }
  });
});
