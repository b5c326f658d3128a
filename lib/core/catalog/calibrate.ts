/**
 * Threshold calibration from a few hundred images labelled by a person (labels.jsonl:
 * `{"image_id", "present": [tags], "absent": [tags]}`). Per label, the images that say whether it
 * is there are ranked by the label's probability (the scorer's own, from the stored embedding);
 * the chosen threshold is the lowest one whose precision reaches the target, i.e. the most recall
 * the target allows. Exclusive categories emit only their top label, so a label that is not its
 * category's top scores 0 for that image: no threshold can emit it there.
 */
import { z } from 'zod';
import { SystemErrorCode, VistaError } from '../errors';
import type { Taxonomy } from '../tags';
import type { Tagger } from '../tags';

export const labelLineSchema = z.strictObject({
  image_id: z.string().min(1),
  present: z.array(z.string()).default([]),
  absent: z.array(z.string()).default([]),
});
export type LabelLine = z.output<typeof labelLineSchema>;

export function parseLabelLines(text: string, source = 'labels.jsonl'): LabelLine[] {
  return text
    .split('\n')
    .map((line, i) => ({ line: line.trim(), number: i + 1 }))
    .filter(({ line }) => line !== '')
    .map(({ line, number }) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new VistaError(SystemErrorCode.CONFIG_INVALID, `${source}:${number}: not JSON`);
      }
      const parsed = labelLineSchema.safeParse(value);
      if (!parsed.success) throw new VistaError(SystemErrorCode.CONFIG_INVALID, `${source}:${number}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      return parsed.data;
    });
}

export interface LabelReport {
  tag: string;
  /** Labelled images with the tag present / absent. */
  positives: number;
  negatives: number;
  currentThreshold: number;
  /** The calibrated threshold; undefined when the target cannot be reached. */
  threshold?: number;
  /** At the calibrated threshold (or the current one when unreachable). */
  precision: number;
  recall: number;
  averagePrecision: number;
  reachable: boolean;
}

export interface Judged {
  score: number;
  present: boolean;
}

/** Average precision: the mean, over the positives, of the precision at each one's rank. */
export function averagePrecision(judged: Judged[]): number {
  const ranked = [...judged].sort((a, b) => b.score - a.score);
  const positives = ranked.filter((j) => j.present).length;
  if (positives === 0) return 0;
  let hits = 0;
  let sum = 0;
  ranked.forEach((j, i) => {
    if (j.present) sum += ++hits / (i + 1);
  });
  return sum / positives;
}

export function precisionRecallAt(judged: Judged[], threshold: number): { precision: number; recall: number } {
  let tp = 0;
  let fp = 0;
  let positives = 0;
  for (const j of judged) {
    if (j.present) positives++;
    if (j.score >= threshold && j.score > 0) j.present ? tp++ : fp++;
  }
  return { precision: tp + fp === 0 ? 1 : tp / (tp + fp), recall: positives === 0 ? 0 : tp / positives };
}

/** The lowest threshold (a score of a labelled image) whose precision reaches the target. */
export function lowestThresholdFor(judged: Judged[], targetPrecision: number): number | undefined {
  const candidates = [...new Set(judged.filter((j) => j.present && j.score > 0).map((j) => j.score))].sort((a, b) => a - b);
  for (const t of candidates) if (precisionRecallAt(judged, t).precision >= targetPrecision) return t;
  return undefined;
}

/** Per label, its probability for one embedding (0 when an exclusive category's top is another). */
export function emittableScores(tagger: Tagger, embedding: Float32Array): Map<string, number> {
  const scores = new Map<string, number>();
  for (const category of tagger.explain(embedding)) {
    if (!category.exclusive) {
      for (const l of category.labels) scores.set(l.tag, l.probability);
      continue;
    }
    let top = -1;
    category.labels.forEach((l, i) => {
      if (top < 0 || l.probability > category.labels[top].probability) top = i;
    });
    const beatsBackground = category.background === undefined || category.labels[top].probability > category.background;
    category.labels.forEach((l, i) => scores.set(l.tag, i === top && beatsBackground ? l.probability : 0));
  }
  return scores;
}

export function calibrate(
  tagger: Tagger,
  taxonomyLabels: { tag: string; threshold: number }[],
  labelled: { line: LabelLine; embedding: Float32Array }[],
  targetPrecision: number,
): LabelReport[] {
  const judgedByTag = new Map<string, Judged[]>(taxonomyLabels.map((l) => [l.tag, []]));
  for (const { line, embedding } of labelled) {
    const scores = emittableScores(tagger, embedding);
    for (const tag of line.present) judgedByTag.get(tag)?.push({ score: scores.get(tag) ?? 0, present: true });
    for (const tag of line.absent) judgedByTag.get(tag)?.push({ score: scores.get(tag) ?? 0, present: false });
  }
  return taxonomyLabels.map(({ tag, threshold: current }) => {
    const judged = judgedByTag.get(tag)!;
    const threshold = lowestThresholdFor(judged, targetPrecision);
    const at = precisionRecallAt(judged, threshold ?? current);
    return {
      tag,
      positives: judged.filter((j) => j.present).length,
      negatives: judged.filter((j) => !j.present).length,
      currentThreshold: current,
      ...(threshold !== undefined ? { threshold } : {}),
      ...at,
      averagePrecision: averagePrecision(judged),
      reachable: threshold !== undefined,
    };
  });
}

/** The taxonomy with the calibrated thresholds set on their labels, as its next version. */
export function calibratedTaxonomy(taxonomy: Taxonomy, reports: LabelReport[]): Taxonomy {
  const thresholds = new Map(reports.filter((r) => r.threshold !== undefined).map((r) => [r.tag, r.threshold!]));
  return {
    ...taxonomy,
    version: taxonomy.version + 1,
    categories: taxonomy.categories.map((c) => ({
      ...c,
      labels: c.labels.map((l) => (thresholds.has(l.name) ? { ...l, threshold: thresholds.get(l.name)! } : l)),
    })),
  };
}
