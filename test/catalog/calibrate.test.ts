import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { calibrateCommand } from '../../lib/cli/commands/tags-calibrate';
import { averagePrecision, calibratedTaxonomy, emittableScores, lowestThresholdFor, parseLabelLines, type LabelLine } from '../../lib/core/catalog/calibrate';
import { runCalibration } from '../../lib/core/catalog/calibrate-run';
import { imagesTable, scanBatches } from '../../lib/core/catalog/scan';
import { packedEmbeddings } from '../../lib/core/catalog/embedding-column';
import { openStore } from '../../lib/core/store/connect';
import { makeTagger, parseTaxonomy } from '../../lib/core/tags';
import { captured, loadedStore } from './support';
import { syntheticBank, syntheticTaxonomy } from './synthetic-bank';

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-calibrate-'));
});
afterAll(() => fs.rm(root, { recursive: true, force: true }));

test('average precision and the lowest threshold reaching a precision', () => {
  const judged = [
    { score: 0.9, present: true },
    { score: 0.8, present: false },
    { score: 0.7, present: true },
    { score: 0.2, present: false },
  ];
  expect(averagePrecision(judged)).toBeCloseTo((1 / 1 + 2 / 3) / 2, 10);
  expect(lowestThresholdFor(judged, 1)).toBe(0.9);
  expect(lowestThresholdFor(judged, 0.6)).toBe(0.7);
  expect(lowestThresholdFor([{ score: 0.5, present: false }, { score: 0.4, present: true }], 0.9)).toBeUndefined();
  expect(() => parseLabelLines('{"image_id": "a", "present": ["pool"]}\n{"present": []}')).toThrow(/labels.jsonl:2: image_id/);
});

test('calibration on a synthetic labelled set recovers the thresholds that made the labels', async () => {
  const { db, shards } = await loadedStore(root, [{ id: 'shard-a', count: 300, seed: 11 }]);
  const taxonomy = syntheticTaxonomy(0.5);
  const bank = syntheticBank(taxonomy, 32);
  const tagger = makeTagger(bank, taxonomy, 100);
  // Known thresholds: a label is present exactly when its score reaches them (the person is right).
  const known: Record<string, number> = { pool: 0.3, spa: 0.6, gym: 0.45, 'sea-view': 0.2 };
  // Scores of the stored (float16) embeddings: what calibration sees.
  const stored = new Map<string, Float32Array>();
  const reader = await openStore(db);
  try {
    for await (const batch of scanBatches(await imagesTable(reader), { columns: ['image_id', 'embedding'] })) {
      const { values, dim } = packedEmbeddings(batch.getChild('embedding')!);
      for (let i = 0; i < batch.numRows; i++) stored.set(batch.getChild('image_id')!.get(i), values.slice(i * dim, (i + 1) * dim));
    }
  } finally {
    reader.close();
  }
  const scores = shards[0].rows.map((r) => emittableScores(tagger, stored.get(r.imageId)!));
  const labels: LabelLine[] = shards[0].rows.map((r, i) => ({
    image_id: r.imageId,
    present: Object.keys(known).filter((t) => scores[i].get(t)! >= known[t]),
    absent: Object.keys(known).filter((t) => scores[i].get(t)! < known[t]),
  }));
  // 'balcony' labelled backwards: present when its score is low, so no threshold reaches the target.
  labels.forEach((l, i) => (scores[i].get('balcony')! < 0.5 ? l.present : l.absent).push('balcony'));
  labels.push({ image_id: 'not-in-store', present: ['pool'], absent: [] });

  const store = await openStore(db);
  try {
    const result = await runCalibration({ images: await imagesTable(store), taxonomy, bank, logitScale: 100, labels, targetPrecision: 1 });
    expect(result.missing).toEqual(['not-in-store']);
    for (const [tag, threshold] of Object.entries(known)) {
      const report = result.reports.find((r) => r.tag === tag)!;
      const positives = scores.map((s) => s.get(tag)!).filter((s) => s >= threshold);
      expect(report.positives).toBe(positives.length);
      expect(report.positives).toBeGreaterThan(10);
      expect(report.negatives).toBeGreaterThan(10);
      // The lowest labelled score at or above the true threshold: as close as the data allows.
      expect(report.threshold).toBe(Math.min(...positives));
      // …and the data cannot tell it from the true one: no labelled score lies between them.
      const highestNegative = Math.max(...scores.map((s) => s.get(tag)!).filter((s) => s < threshold));
      expect(highestNegative).toBeLessThan(threshold);
      expect(scores.some((s) => s.get(tag)! >= threshold && s.get(tag)! < report.threshold!)).toBe(false);
      expect(report).toMatchObject({ precision: 1, recall: 1, averagePrecision: 1, reachable: true });
    }
    expect(result.unreachable).toEqual(['balcony']);
    const next = parseTaxonomy(calibratedTaxonomy(taxonomy, result.reports));
    expect(next.version).toBe(taxonomy.version + 1);
    const labelsOf = next.categories.flatMap((c) => c.labels);
    expect(labelsOf.find((l) => l.name === 'spa')!.threshold).toBe(result.reports.find((r) => r.tag === 'spa')!.threshold);
    expect(labelsOf.find((l) => l.name === 'balcony')!.threshold).toBeUndefined(); // unreachable: unchanged
  } finally {
    store.close();
  }
  expect((await captured(() => calibrateCommand.run({ db, labels: 'x.jsonl' }, []))).code).toBe(2); // no --out
});
