/**
 * Zero-shot tagging of one image embedding against the label bank (pure; runs once per image).
 *
 * logit(row) = logitScale × cos(image, row) — CLIP's own classifier head.
 *
 * Exclusive category: softmax over its labels plus, when it has background prompts, a "none of
 * these" class. The top option is emitted when it is a label and its probability reaches the
 * label's threshold. Without the background class a pool photo would still get a room type.
 *
 * Multi-label category: each label is a 2-way softmax against the category's background
 * embedding, p = σ(logitScale × (cos(image, label) − cos(image, background))): "is this more a
 * photo of a hot tub than a generic hotel photo?". Unlike a fixed-bias sigmoid it needs no
 * per-model calibration constant: the background is measured on the same image, so it cancels
 * what all hotel photos share. It is exactly CLIP's zero-shot classifier restricted to two
 * classes, so the probability means what it means in CLIP; threshold t asks for a cosine margin
 * of logit(t) / logitScale over the background (0 at t = 0.5).
 */
import { SystemErrorCode, VistaError } from '../errors';
import type { LabelBank } from './label-bank-file';
import { bankRows, resolveTaxonomy, taxonomyId } from './taxonomy';
import type { Taxonomy } from './taxonomy-schema';

export interface TagResult {
  /** Sorted by score, highest first; ties keep taxonomy order. */
  tags: string[];
  /** The probability each tag was thresholded on. */
  scores: number[];
}

export interface CategoryScores {
  category: string;
  exclusive: boolean;
  labels: { tag: string; probability: number; threshold: number }[];
  /** Exclusive categories with background prompts: the probability of "none of these". */
  background?: number;
}

export interface Tagger {
  tag(embedding: Float32Array): TagResult;
  tagBatch(embeddings: Float32Array[]): TagResult[];
  /** Every probability, emitted or not: for threshold tuning and debugging. */
  explain(embedding: Float32Array): CategoryScores[];
}

interface CategoryPlan {
  name: string;
  exclusive: boolean;
  /** Bank rows [first, first + tags.length) are the labels. */
  first: number;
  tags: string[];
  thresholds: number[];
  /** Bank row of the background, -1 when none. */
  background: number;
}

/**
 * The taxonomy laid over bank rows, and the one place where logits become emitted tags: the
 * per-image tagger (the worker) and the batch re-tag (lib/core/catalog/retag-score.ts) both go
 * through `emit`, so they cannot drift apart.
 */
export interface TagPlan {
  /** Every label of the taxonomy, in taxonomy order; hits refer to labels by index in it. */
  labels: string[];
  /** Bank rows (labels and backgrounds): the width of one image's logits. */
  rowCount: number;
  /**
   * One image's hits from its logits (logits[base … base + rowCount)): writes label indices and
   * probabilities at `at`, sorted by probability, highest first (ties keep taxonomy order), and
   * returns how many. The arrays need room for `labels.length` hits.
   */
  emit(logits: Float64Array, base: number, hitLabels: Int32Array, hitScores: Float64Array, at: number): number;
}

export function planTagging(bank: LabelBank, taxonomy: Taxonomy): TagPlan {
  const plans = planCategories(bank, taxonomy);
  const labels = plans.flatMap((p) => p.tags);
  const labelBase: number[] = [];
  plans.reduce((n, p) => (labelBase.push(n), n + p.tags.length), 0);
  const emit = (logits: Float64Array, base: number, hitLabels: Int32Array, hitScores: Float64Array, at: number): number => {
    let count = 0;
    const push = (label: number, score: number) => {
      // Insertion sort, moving only past strictly lower scores: stable, like Array.prototype.sort.
      let j = at + count++;
      while (j > at && hitScores[j - 1] < score) {
        hitScores[j] = hitScores[j - 1];
        hitLabels[j] = hitLabels[j - 1];
        j--;
      }
      hitScores[j] = score;
      hitLabels[j] = label;
    };
    for (let c = 0; c < plans.length; c++) {
      const plan = plans[c];
      if (plan.exclusive) {
        const top = exclusiveTop(plan, logits, base);
        if (top.index >= 0 && top.probability >= plan.thresholds[top.index]) push(labelBase[c] + top.index, top.probability);
      } else {
        const zBackground = logits[base + plan.background];
        for (let i = 0; i < plan.tags.length; i++) {
          const p = sigmoid(logits[base + plan.first + i] - zBackground);
          if (p >= plan.thresholds[i]) push(labelBase[c] + i, p);
        }
      }
    }
    return count;
  };
  return { labels, rowCount: bank.rows.length, emit };
}

export function makeTagger(bank: LabelBank, taxonomy: Taxonomy, logitScale: number): Tagger {
  checkLogitScale(logitScale);
  const plans = planCategories(bank, taxonomy);
  const tagPlan = planTagging(bank, taxonomy);
  const { vectors, dim } = bank;
  const rowCount = bank.rows.length;
  // Reused across calls: tag() is synchronous, so no two calls can interleave.
  const logits = new Float64Array(rowCount);
  const hitLabels = new Int32Array(tagPlan.labels.length);
  const hitScores = new Float64Array(tagPlan.labels.length);

  const computeLogits = (embedding: Float32Array): void => {
    if (embedding.length !== dim) {
      throw new VistaError(SystemErrorCode.MODEL_INVALID, `image embedding has length ${embedding.length}, the label bank ${dim}`);
    }
    for (let r = 0, base = 0; r < rowCount; r++, base += dim) {
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += vectors[base + k] * embedding[k];
      logits[r] = logitScale * dot;
    }
  };

  const tag = (embedding: Float32Array): TagResult => {
    computeLogits(embedding);
    const n = tagPlan.emit(logits, 0, hitLabels, hitScores, 0);
    const tags: string[] = [];
    const scores: number[] = [];
    for (let h = 0; h < n; h++) {
      tags.push(tagPlan.labels[hitLabels[h]]);
      scores.push(hitScores[h]);
    }
    return { tags, scores };
  };
  const explain = (embedding: Float32Array): CategoryScores[] => {
    computeLogits(embedding);
    return plans.map((plan) => {
      const label = (i: number, probability: number) => ({ tag: plan.tags[i], probability, threshold: plan.thresholds[i] });
      if (!plan.exclusive) {
        return { category: plan.name, exclusive: false, labels: plan.tags.map((_, i) => label(i, sigmoid(logits[plan.first + i] - logits[plan.background]))) };
      }
      const zs = plan.tags.map((_, i) => logits[plan.first + i]);
      if (plan.background >= 0) zs.push(logits[plan.background]);
      const probabilities = softmax(zs);
      return {
        category: plan.name,
        exclusive: true,
        labels: plan.tags.map((_, i) => label(i, probabilities[i])),
        ...(plan.background >= 0 ? { background: probabilities[plan.tags.length] } : {}),
      };
    });
  };

  return { tag, tagBatch: (embeddings) => embeddings.map(tag), explain };
}

/** Index of the winning label (-1 when the background wins) and its softmax probability. */
function exclusiveTop(plan: CategoryPlan, logits: Float64Array, base: number): { index: number; probability: number } {
  let best = -1;
  let zMax = plan.background >= 0 ? logits[base + plan.background] : -Infinity;
  for (let i = 0; i < plan.tags.length; i++) {
    const z = logits[base + plan.first + i];
    if (z > zMax) {
      zMax = z;
      best = i;
    }
  }
  if (best < 0) return { index: -1, probability: 0 };
  let sum = plan.background >= 0 ? Math.exp(logits[base + plan.background] - zMax) : 0;
  for (let i = 0; i < plan.tags.length; i++) sum += Math.exp(logits[base + plan.first + i] - zMax);
  return { index: best, probability: 1 / sum };
}

/** CLIP's logit scale: a positive, finite number. */
export function checkLogitScale(logitScale: number): void {
  if (!(logitScale > 0) || !Number.isFinite(logitScale)) {
    throw new VistaError(SystemErrorCode.MODEL_INVALID, `logit scale must be a positive number, got ${logitScale}`);
  }
}

function softmax(zs: number[]): number[] {
  const zMax = Math.max(...zs);
  const exps = zs.map((z) => Math.exp(z - zMax));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Maps the taxonomy onto bank rows, refusing a bank that was built for something else. */
function planCategories(bank: LabelBank, taxonomy: Taxonomy): CategoryPlan[] {
  const expectedId = taxonomyId(taxonomy);
  const categories = resolveTaxonomy(taxonomy);
  const rows = bankRows(categories);
  const sameRows = bank.rows.length === rows.length && bank.rows.every((r, i) => r.category === rows[i].category && r.label === rows[i].label);
  if (bank.taxonomyId !== expectedId || !sameRows || bank.vectors.length !== rows.length * bank.dim) {
    throw new VistaError(
      SystemErrorCode.TAXONOMY_INVALID,
      `label bank was built for taxonomy ${bank.taxonomyId}, not ${expectedId}: rebuild it with getLabelBank`,
    );
  }
  const plans: CategoryPlan[] = [];
  let row = 0;
  for (const category of categories) {
    const first = row;
    row += category.labels.length;
    const background = category.background.length > 0 ? row++ : -1;
    plans.push({
      name: category.name,
      exclusive: category.exclusive,
      first,
      tags: category.labels.map((l) => l.name),
      thresholds: category.labels.map((l) => l.threshold),
      background,
    });
  }
  return plans;
}
