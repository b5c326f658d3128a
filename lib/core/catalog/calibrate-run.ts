/** `vista tags calibrate|evaluate`: labelled images' stored embeddings → per-label report. */
import type * as lancedb from '@lancedb/lancedb';
import { ResultColumn as C } from '../pipeline/schema';
import { sqlString } from '../store/tables';
import { type LabelBank, makeTagger, resolveTaxonomy, type Taxonomy } from '../tags';
import { calibrate, type LabelLine, type LabelReport } from './calibrate';
import { packedEmbeddings } from './embedding-column';
import { scanBatches } from './scan';

export interface CalibrationInput {
  images: lancedb.Table;
  taxonomy: Taxonomy;
  bank: LabelBank;
  logitScale: number;
  labels: LabelLine[];
  targetPrecision: number;
}

export interface CalibrationResult {
  reports: LabelReport[];
  /** Labelled image ids the store does not have. */
  missing: string[];
  unreachable: string[];
}

export async function runCalibration(input: CalibrationInput): Promise<CalibrationResult> {
  const tagger = makeTagger(input.bank, input.taxonomy, input.logitScale);
  const wanted = new Map(input.labels.map((l) => [l.image_id, l]));
  const embeddings = new Map<string, Float32Array>();
  const ids = [...wanted.keys()];
  for (let start = 0; start < ids.length; start += 500) {
    const where = `${C.imageId} IN (${ids.slice(start, start + 500).map(sqlString).join(', ')})`;
    for await (const batch of scanBatches(input.images, { columns: [C.imageId, C.embedding], where })) {
      const { values, dim } = packedEmbeddings(batch.getChild(C.embedding)!);
      const idColumn = batch.getChild(C.imageId)!;
      for (let i = 0; i < batch.numRows; i++) embeddings.set(idColumn.get(i) as string, values.slice(i * dim, (i + 1) * dim));
    }
  }
  const labelled = [...wanted.values()].filter((l) => embeddings.has(l.image_id)).map((line) => ({ line, embedding: embeddings.get(line.image_id)! }));
  const taxonomyLabels = resolveTaxonomy(input.taxonomy).flatMap((c) => c.labels.map((l) => ({ tag: l.name, threshold: l.threshold })));
  const reports = calibrate(tagger, taxonomyLabels, labelled, input.targetPrecision);
  return { reports, missing: ids.filter((id) => !embeddings.has(id)), unreachable: reports.filter((r) => r.positives > 0 && !r.reachable).map((r) => r.tag) };
}

export function formatCalibration(result: CalibrationResult, targetPrecision: number): string {
  const lines = [
    `target precision ${targetPrecision}; ${result.missing.length} labelled images not in the store`,
    '',
    `  ${'tag'.padEnd(24)} ${'pos'.padStart(5)} ${'neg'.padStart(5)}  current  calibrated  precision  recall  avg-prec`,
  ];
  for (const r of result.reports) {
    if (r.positives + r.negatives === 0) continue;
    lines.push(
      `  ${r.tag.padEnd(24)} ${String(r.positives).padStart(5)} ${String(r.negatives).padStart(5)}  ${r.currentThreshold.toFixed(3).padStart(7)}  ${(r.threshold === undefined ? 'unreachable' : r.threshold.toFixed(4)).padStart(10)}  ${r.precision.toFixed(3).padStart(9)}  ${r.recall.toFixed(3).padStart(6)}  ${r.averagePrecision.toFixed(3).padStart(8)}`,
    );
  }
  const unlabelled = result.reports.filter((r) => r.positives + r.negatives === 0).length;
  if (unlabelled > 0) lines.push('', `${unlabelled} tags have no labelled image: their thresholds stay`);
  if (result.unreachable.length > 0) lines.push('', `cannot reach the target (thresholds stay): ${result.unreachable.join(', ')}`);
  return lines.join('\n');
}
