/**
 * The text side of zero-shot tagging: one embedding per label (and per category background),
 * computed once per (model, taxonomy) and cached as an artifact, so workers never run the text
 * tower on the hot path and thousands of Batch jobs don't each embed the same prompts.
 *
 * Each row is CLIP's prompt ensemble: the mean of its prompts' unit embeddings, re-normalized.
 */
import { SystemErrorCode, VistaError } from '../errors';
import { exists, joinUri, readBytes, writeAtomic } from '../io/location';
import type { ClipModel } from '../types';
import { decodeLabelBank, encodeLabelBank, type LabelBank } from './label-bank-file';
import { bankRows, resolveTaxonomy, taxonomyId, type BankRow } from './taxonomy';
import type { Taxonomy } from './taxonomy-schema';

export type { LabelBank } from './label-bank-file';

/** Prompts per embedTexts call: bounds the text tower's batch memory. */
const TEXT_BATCH = 64;

/** `<cache>/label-banks/<model id>__<taxonomy id>.bin` (ids made file-name safe). */
export function labelBankUri(cacheDirUri: string, modelId: string, taxId: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._@=-]/g, '_');
  return joinUri(cacheDirUri, 'label-banks', `${safe(modelId)}__${safe(taxId)}.bin`);
}

/** The cached bank when it is there and matches; otherwise computes it and caches it. */
export async function getLabelBank(model: ClipModel, taxonomy: Taxonomy, cacheDirUri: string): Promise<LabelBank> {
  const taxId = taxonomyId(taxonomy);
  const uri = labelBankUri(cacheDirUri, model.id, taxId);
  if (await exists(uri)) {
    const cached = decodeLabelBank(await readBytes(uri));
    if (cached && matches(cached, model, taxId, bankRows(resolveTaxonomy(taxonomy)))) return cached;
  }
  const bank = await computeLabelBank(model, taxonomy);
  await writeAtomic(uri, encodeLabelBank(bank), 'application/octet-stream');
  return bank;
}

/** Runs the text tower over every prompt of the taxonomy (no cache). */
export async function computeLabelBank(model: ClipModel, taxonomy: Taxonomy): Promise<LabelBank> {
  const categories = resolveTaxonomy(taxonomy);
  const rows = bankRows(categories);
  const promptsPerRow: string[][] = [];
  for (const category of categories) {
    for (const label of category.labels) promptsPerRow.push(label.prompts);
    if (category.background.length > 0) promptsPerRow.push(category.background);
  }

  const unique = [...new Set(promptsPerRow.flat())];
  const embeddingOf = new Map<string, Float32Array>();
  for (let start = 0; start < unique.length; start += TEXT_BATCH) {
    const texts = unique.slice(start, start + TEXT_BATCH);
    const embeddings = await model.embedTexts(texts);
    if (embeddings.length !== texts.length) {
      throw modelInvalid(model, `embedTexts returned ${embeddings.length} embeddings for ${texts.length} prompts`);
    }
    texts.forEach((text, i) => embeddingOf.set(text, checkedEmbedding(model, text, embeddings[i])));
  }

  const dim = model.embedDim;
  const vectors = new Float32Array(rows.length * dim);
  promptsPerRow.forEach((prompts, r) => {
    const row = vectors.subarray(r * dim, (r + 1) * dim);
    for (const prompt of prompts) {
      const e = embeddingOf.get(prompt)!;
      for (let k = 0; k < dim; k++) row[k] += e[k];
    }
    if (!normalizeInPlace(row)) throw modelInvalid(model, `the prompts of ${JSON.stringify(rows[r])} average to a zero vector`);
  });
  return { modelId: model.id, taxonomyId: taxonomyId(taxonomy), dim, rows, vectors };
}

function matches(bank: LabelBank, model: ClipModel, taxId: string, rows: BankRow[]): boolean {
  return (
    bank.modelId === model.id &&
    bank.taxonomyId === taxId &&
    bank.dim === model.embedDim &&
    bank.rows.length === rows.length &&
    bank.rows.every((row, i) => row.category === rows[i].category && row.label === rows[i].label)
  );
}

/** A unit vector of the model's dimension (re-normalized: ensembling assumes unit inputs). */
function checkedEmbedding(model: ClipModel, text: string, embedding: Float32Array | undefined): Float32Array {
  if (!embedding || embedding.length !== model.embedDim) {
    throw modelInvalid(model, `text embedding of "${text}" has length ${embedding?.length}, expected ${model.embedDim}`);
  }
  const unit = Float32Array.from(embedding);
  if (!normalizeInPlace(unit)) throw modelInvalid(model, `text embedding of "${text}" is zero or not finite`);
  return unit;
}

/** false when the vector has no direction (zero, NaN or infinite norm). */
function normalizeInPlace(v: Float32Array): boolean {
  let sum = 0;
  for (let k = 0; k < v.length; k++) sum += v[k] * v[k];
  const norm = Math.sqrt(sum);
  if (!(norm > 0) || !Number.isFinite(norm)) return false;
  for (let k = 0; k < v.length; k++) v[k] /= norm;
  return true;
}

function modelInvalid(model: ClipModel, message: string): VistaError {
  return new VistaError(SystemErrorCode.MODEL_INVALID, `label bank for model ${model.id}: ${message}`);
}
