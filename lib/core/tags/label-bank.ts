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

export interface GetLabelBankOptions {
  /**
   * Rows of a cached bank recomputed with the model and compared (cosine ≥ 0.99) before the bank
   * is used, chosen at random: a bank poisoned in many rows is caught at once, one poisoned in a
   * single row with probability verifyRows / rows per reader. Infinity checks every row.
   * @default 8
   */
  verifyRows?: number;
}

/**
 * The cached bank when it is there and checks out; otherwise computes it and caches it. A cached
 * bank whose header names another model, taxonomy or rows than its file name promises, whose
 * vectors fail their checksum, or whose spot-checked rows differ from the model's own text
 * embeddings is refused with LABEL_BANK_INVALID (a poisoned bank would re-tag a whole backfill),
 * never silently replaced. A reader that may not write the cache (the inference endpoint) uses
 * the bank it computed from memory.
 */
export async function getLabelBank(model: ClipModel, taxonomy: Taxonomy, cacheDirUri: string, options: GetLabelBankOptions = {}): Promise<LabelBank> {
  const taxId = taxonomyId(taxonomy);
  const uri = labelBankUri(cacheDirUri, model.id, taxId);
  if (await exists(uri)) {
    const cached = decodeLabelBank(await readBytes(uri));
    if (cached) {
      const mismatch = mismatchOf(cached, model, taxId, bankRows(resolveTaxonomy(taxonomy)));
      if (mismatch) throw invalidBank(uri, mismatch);
      await spotCheck(cached, model, taxonomy, uri, options.verifyRows ?? 8);
      return cached;
    }
  }
  const bank = await computeLabelBank(model, taxonomy);
  try {
    await writeAtomic(uri, encodeLabelBank(bank), 'application/octet-stream');
  } catch (err) {
    if (!isAccessDenied(err)) throw err;
  }
  return bank;
}

/** Runs the text tower over every prompt of the taxonomy (no cache). */
export async function computeLabelBank(model: ClipModel, taxonomy: Taxonomy): Promise<LabelBank> {
  const categories = resolveTaxonomy(taxonomy);
  const rows = bankRows(categories);
  const vectors = await embedRows(model, promptsPerRow(taxonomy));
  return { modelId: model.id, taxonomyId: taxonomyId(taxonomy), dim: model.embedDim, rows, vectors };
}

/** The prompts of each bank row, in bank order (a label's prompts, then its category's background). */
function promptsPerRow(taxonomy: Taxonomy): string[][] {
  const out: string[][] = [];
  for (const category of resolveTaxonomy(taxonomy)) {
    for (const label of category.labels) out.push(label.prompts);
    if (category.background.length > 0) out.push(category.background);
  }
  return out;
}

/** rows × dim: each row the re-normalized mean of its prompts' unit embeddings. */
async function embedRows(model: ClipModel, promptsPerRow: string[][]): Promise<Float32Array> {
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
  const vectors = new Float32Array(promptsPerRow.length * dim);
  promptsPerRow.forEach((prompts, r) => {
    const row = vectors.subarray(r * dim, (r + 1) * dim);
    for (const prompt of prompts) {
      const e = embeddingOf.get(prompt)!;
      for (let k = 0; k < dim; k++) row[k] += e[k];
    }
    if (!normalizeInPlace(row)) throw modelInvalid(model, `the prompts ${JSON.stringify(prompts)} average to a zero vector`);
  });
  return vectors;
}

function mismatchOf(bank: LabelBank, model: ClipModel, taxId: string, rows: BankRow[]): string | undefined {
  if (bank.modelId !== model.id) return `built for model ${bank.modelId}, not ${model.id}`;
  if (bank.taxonomyId !== taxId) return `built for taxonomy ${bank.taxonomyId}, not ${taxId}`;
  if (bank.dim !== model.embedDim) return `of dimension ${bank.dim}, not ${model.embedDim}`;
  if (bank.rows.length !== rows.length || !bank.rows.every((row, i) => row.category === rows[i].category && row.label === rows[i].label)) {
    return 'its rows are not the taxonomy\'s labels';
  }
  return undefined;
}

/** Recomputes a random sample of rows with the model and refuses the bank if any differs. */
async function spotCheck(bank: LabelBank, model: ClipModel, taxonomy: Taxonomy, uri: string, count: number): Promise<void> {
  const prompts = promptsPerRow(taxonomy);
  const picked = [...prompts.keys()].sort(() => Math.random() - 0.5).slice(0, Math.min(count, prompts.length));
  if (picked.length === 0) return;
  const fresh = await embedRows(model, picked.map((r) => prompts[r]));
  const dim = bank.dim;
  picked.forEach((r, i) => {
    let cosine = 0;
    for (let k = 0; k < dim; k++) cosine += fresh[i * dim + k] * bank.vectors[r * dim + k];
    if (!(cosine >= 0.99)) throw invalidBank(uri, `row ${r} (${JSON.stringify(bank.rows[r])}) is not the model's embedding of its prompts (cosine ${cosine.toFixed(3)})`);
  });
}

function invalidBank(uri: string, why: string): VistaError {
  return new VistaError(SystemErrorCode.LABEL_BANK_INVALID, `label bank ${uri}: ${why}; refusing it (delete it to have it rebuilt, and find out who wrote it)`);
}

/** S3's AccessDenied (a role that may read the cache but not write it), or EACCES. */
function isAccessDenied(err: unknown): boolean {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'AccessDenied' || e.$metadata?.httpStatusCode === 403 || e.code === 'EACCES';
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
