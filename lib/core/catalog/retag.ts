/**
 * Re-tagging from stored embeddings: tags are a function of the embedding and the label bank, so
 * a new taxonomy is applied to the catalog without reading or embedding a single image.
 *
 * Work goes unit by unit (a unit = the rows of one shard_id). Each unit: read its rows, check they
 * were embedded by the label bank's model, score a batch at a time (one float64 matrix product in
 * onnxruntime, then the worker's own emission rule: retag-score.ts), write the new tags,
 * tag_scores and taxonomy_id (and, with rename, seo_filename) in one merge-insert commit keyed on
 * (image_id, load_id), then record the unit in the retag ledger. Reruns skip recorded units; a
 * unit cut short is redone and gives the same values. The next unit is read and scored while the
 * current one commits.
 *
 * Each unit's commit runs under the store's writer lease (runRetag passes withWriterLease), so a
 * re-tag never interleaves with a backfill's loads, compaction or index build.
 */
import type * as lancedb from '@lancedb/lancedb';
import { type Data, Field, RecordBatch, Schema, Struct, Table, Utf8, makeData, vectorFromArray } from 'apache-arrow';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SystemErrorCode, VistaError } from '../errors';
import { seoFilename } from '../naming/seo';
import { ResultColumn as C } from '../pipeline/schema';
import { TableName, type VistaStore } from '../store/connect';
import { StoreColumn, sqlString } from '../store/tables';
import { checkLogitScale, type LabelBank, planTagging, type TagPlan, taxonomyId as taxonomyIdOf } from '../tags';
import type { Taxonomy } from '../tags';
import type { ImageFormat } from '../types';
import { openOutputFile } from '../io/output-file';
import { csvField } from './csv-field';
import { imagesTable, scanBatches } from './scan';
import { constantUtf8 } from '../store/arrow-batches';
import { StringCounter, embeddingBlock, firstDifferent, labelBytes, rowTags, scoresData, tagsData } from './retag-columns';
import { type BankProduct, emitBlock, makeBankProduct } from './retag-score';
import { type RetagHistory, type RetagLedgerRow, openRetagLedger, readRetagLedger, recordRetagged } from './retag-ledger';

export interface RetagOptions {
  store: VistaStore;
  taxonomy: Taxonomy;
  /** The new taxonomy's label bank, built with the model that embedded the stored images. */
  bank: LabelBank;
  /** The model's logit scale (its classifier head). */
  logitScale: number;
  /** Rewrite seo_filename from the new tags (URLs change!). @default false */
  rename?: boolean;
  /** With rename: folder for the rename map of changed names (one CSV per unit, then rename-map.csv). */
  renameDir?: string;
  /** Only these units (shard_ids); default every unit in the store. */
  units?: string[];
  /** This run's share of the units: one child of a Batch array job (unitsOfPartition). */
  partition?: { index: number; count: number };
  onUnit?: (progress: UnitReport & { done: number; total: number }) => void;
  /** Runs each unit's commit under the store's writer lease (lib/core/store/writer-lease.ts). */
  withWriterLease?: <T>(unit: string, commit: () => Promise<T>) => Promise<T>;
}

export interface UnitReport {
  unit: string;
  rows: number;
  renamed: number;
  /** Already in the ledger: nothing was written. */
  skipped: boolean;
  before: Record<string, number>;
  after: Record<string, number>;
  /** Units done by this run: seconds reading and scoring it (overlapping the previous commit), and committing it. */
  seconds?: { score: number; commit: number };
}

export interface RetagReport {
  taxonomyId: string;
  units: number;
  skippedUnits: number;
  rows: number;
  renamed: number;
  /** Per label: images carrying it before and after, over every unit of this run. */
  labels: { tag: string; before: number; after: number }[];
  renameMap?: string;
}

/** Every shard_id in the images table (one streamed pass over that column). */
export async function listUnits(table: lancedb.Table): Promise<string[]> {
  const units = new Set<string>();
  for await (const batch of scanBatches(table, { columns: [StoreColumn.shardId], batchRows: 65_536 })) {
    const column = batch.getChild(StoreColumn.shardId)!;
    for (let i = 0; i < column.length; i++) units.add(column.get(i) as string);
  }
  return [...units].sort();
}

/** A stable split of units among `count` runs (by hash, so every run agrees without talking). */
export function unitsOfPartition(units: readonly string[], index: number, count: number): string[] {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `partition ${index} of ${count} is not one of 0…${count - 1}`);
  }
  return units.filter((unit) => createHash('sha256').update(unit).digest().readUInt32BE(0) % count === index);
}

/** What every batch of one run shares: the plan, the bank product and the columns it writes. */
export interface BatchRetagger {
  plan: TagPlan;
  product: BankProduct;
  names: Uint8Array[];
  taxId: string;
  modelId: string;
  rename: boolean;
}

export function makeBatchRetagger(bank: LabelBank, taxonomy: Taxonomy, logitScale: number, rename: boolean): BatchRetagger {
  checkLogitScale(logitScale);
  const plan = planTagging(bank, taxonomy);
  return { plan, product: makeBankProduct(bank, logitScale), names: labelBytes(plan.labels), taxId: taxonomyIdOf(taxonomy), modelId: bank.modelId, rename };
}

/** Per label index: images carrying it after the re-tag, as the report's record (labels with none left out). */
function countsOf(labels: readonly string[], counts: Int32Array): Record<string, number> {
  const record: Record<string, number> = {};
  labels.forEach((label, i) => {
    if (counts[i] > 0) record[label] = counts[i];
  });
  return record;
}

interface Retagged {
  /** The same rows with tags, tag_scores, taxonomy_id (and seo_filename) replaced. */
  batch: RecordBatch;
  renames: string;
  renamed: number;
}

/** One batch of stored rows → its new tags (and names), ready to merge. */
export async function retagBatch(batch: RecordBatch, retagger: BatchRetagger, before: StringCounter, after: Int32Array): Promise<Retagged> {
  const { plan, taxId, modelId } = retagger;
  const models = batch.getChild(C.modelId)!;
  const wrong = firstDifferent(models, modelId);
  if (wrong >= 0) {
    throw new VistaError(
      SystemErrorCode.MODEL_INVALID,
      `row ${batch.getChild(C.imageId)!.get(wrong)} was embedded by model ${models.get(wrong)}, the label bank by ${modelId}: re-tagging needs the same model`,
    );
  }
  const rows = batch.numRows;
  const logits = await retagger.product.logits(embeddingBlock(batch.getChild(C.embedding)!));
  const tagged = emitBlock(plan, logits, rows, after);
  before.add(batch.getChild(C.tags)!);
  const columns: [string, Data][] = [
    [C.tags, tagsData(tagged, retagger.names)],
    [C.tagScores, scoresData(tagged)],
    [C.taxonomyId, constantUtf8(taxId, rows)],
  ];
  let renames = '';
  let renamed = 0;
  if (retagger.rename) {
    const ids = batch.getChild(C.imageId)!;
    const formats = batch.getChild(C.format)!;
    const oldNames = batch.getChild(C.seoFilename)!;
    const hotelNames = batch.getChild('hotel_name');
    const cities = batch.getChild('city');
    const sources = batch.getChild(C.sourceUri)!;
    const hotels = batch.getChild(C.hotelId)!;
    const names = Array.from({ length: rows }, (_, i) =>
      seoFilename({ imageId: ids.get(i), format: formats.get(i) as ImageFormat, hotelName: hotelNames?.get(i) ?? undefined, city: cities?.get(i) ?? undefined, tags: rowTags(tagged, plan.labels, i) }),
    );
    names.forEach((name, i) => {
      if (name === oldNames.get(i)) return;
      renamed++;
      renames += `${[sources.get(i), ids.get(i), hotels.get(i) ?? '', oldNames.get(i), name].map((v) => csvField(String(v))).join(',')}\n`;
    });
    columns.push([C.seoFilename, vectorFromArray(names, new Utf8()).data[0]]);
  }
  // Whole rows go back: LanceDB's merge of a subset of columns fills in the rest by scanning every
  // column of the whole table, once per unit (quadratic in the catalog); whole rows need only
  // the keys scanned (measured: docs/benchmarks.md, re-tag).
  const replaced = new Map(columns);
  const fields = batch.schema.fields.map((f) => (replaced.has(f.name) ? new Field(f.name, replaced.get(f.name)!.type, f.nullable) : f));
  const children = batch.schema.fields.map((f, i) => replaced.get(f.name) ?? batch.data.children[i]);
  return { batch: new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: rows, nullCount: 0, children })), renames, renamed };
}

/** Rows per scanned batch (see scoreUnit). */
const SCAN_BATCH_ROWS = 2048;

export const RENAME_MAP_HEADER = 'source_uri,image_id,hotel_id,old_seo_filename,seo_filename\n';

/** A unit read and scored, not yet written. */
interface ScoredUnit {
  unit: string;
  rows: number;
  batches: RecordBatch[];
  renames: string;
  renamed: number;
  before: Record<string, number>;
  after: Record<string, number>;
  scoreSeconds: number;
}

async function scoreUnit(images: lancedb.Table, retagger: BatchRetagger, unit: string): Promise<ScoredUnit> {
  const started = performance.now();
  const oldTags = new StringCounter();
  const newTags = new Int32Array(retagger.plan.labels.length);
  const scored: ScoredUnit = { unit, rows: 0, batches: [], renames: '', renamed: 0, before: {}, after: {}, scoreSeconds: 0 };
  // Small batches: LanceDB hands each over in fresh memory, and page-faulting 16 MiB ones in
  // cost more CPU than reading them (docs/benchmarks.md, re-tag).
  for await (const batch of scanBatches(images, { where: `${StoreColumn.shardId} = ${sqlString(unit)}`, batchRows: SCAN_BATCH_ROWS })) {
    const result = await retagBatch(batch, retagger, oldTags, newTags);
    scored.batches.push(result.batch);
    scored.renames += result.renames;
    scored.renamed += result.renamed;
    scored.rows += batch.numRows;
  }
  oldTags.into(scored.before);
  scored.after = countsOf(retagger.plan.labels, newTags);
  scored.scoreSeconds = (performance.now() - started) / 1000;
  return scored;
}

async function commitUnit(options: RetagOptions, images: lancedb.Table, ledger: lancedb.Table, taxId: string, scored: ScoredUnit, history: RetagHistory): Promise<UnitReport> {
  const { unit, rows, batches, after } = scored;
  let { before, renamed } = scored;
  const started = history.started.get(unit);
  if (started) {
    // A rerun of a unit whose commit may have happened: the state before it is in the ledger.
    before = JSON.parse(started.before);
    renamed = started.renamed;
  } else {
    if (options.rename && options.renameDir) {
      const out = await openOutputFile(path.join(options.renameDir, 'units', `${unit}.csv`));
      await out.write(scored.renames);
      await out.commit();
    }
    await recordRetagged(options.store, ledger, { taxonomy_id: taxId, unit, event: 'started', rows, before: JSON.stringify(before), after: '{}', renamed, at: new Date() });
  }
  const commitStarted = performance.now();
  if (batches.length > 0) {
    const commit = () =>
      options.store.commit(TableName.images, `retag ${unit}`, () =>
        images.mergeInsert([C.imageId, StoreColumn.loadId]).whenMatchedUpdateAll().execute(new Table(batches[0].schema, batches)),
      );
    await (options.withWriterLease ? options.withWriterLease(unit, commit) : commit());
  }
  const commitSeconds = (performance.now() - commitStarted) / 1000;
  const row: RetagLedgerRow = { taxonomy_id: taxId, unit, event: 'done', rows, before: JSON.stringify(before), after: JSON.stringify(after), renamed, at: new Date() };
  await recordRetagged(options.store, ledger, row);
  return { unit, rows, renamed, skipped: false, before, after, seconds: { score: scored.scoreSeconds, commit: commitSeconds } };
}

export async function retagStore(options: RetagOptions): Promise<RetagReport> {
  const taxId = taxonomyIdOf(options.taxonomy);
  const retagger = makeBatchRetagger(options.bank, options.taxonomy, options.logitScale, options.rename === true);
  try {
    return await retagUnits(options, retagger, taxId);
  } finally {
    await retagger.product.close();
  }
}

async function retagUnits(options: RetagOptions, retagger: BatchRetagger, taxId: string): Promise<RetagReport> {
  const images = await imagesTable(options.store);
  const ledger = await openRetagLedger(options.store);
  const done = await readRetagLedger(ledger, taxId);
  const all = options.units ?? (await listUnits(images));
  const units = options.partition ? unitsOfPartition(all, options.partition.index, options.partition.count) : all;
  const report: RetagReport = { taxonomyId: taxId, units: units.length, skippedUnits: 0, rows: 0, renamed: 0, labels: [] };
  const before: Record<string, number> = {};
  const after: Record<string, number> = {};
  let index = 0;
  // The next unit is read and scored (JS and onnxruntime) while this one commits (LanceDB's
  // threads): the two halves use different cores. Units still commit one at a time, in order.
  const todo = units.filter((unit) => !done.done.has(unit));
  const prefetch = (unit: string | undefined) => (unit === undefined ? undefined : scoreUnit(images, retagger, unit));
  let next = prefetch(todo[0]);
  try {
    for (const unit of units) {
      const recorded = done.done.get(unit);
      let result: UnitReport;
      if (recorded) {
        result = { unit, rows: recorded.rows, renamed: recorded.renamed, skipped: true, before: JSON.parse(recorded.before), after: JSON.parse(recorded.after) };
      } else {
        const scored = await next!;
        next = prefetch(todo[todo.indexOf(unit) + 1]);
        result = await commitUnit(options, images, ledger, taxId, scored, done);
      }
      tally(report, before, after, result);
      options.onUnit?.({ ...result, done: ++index, total: units.length });
    }
  } finally {
    // A failed commit must not leave a read running against a store about to be closed.
    await next?.catch(() => undefined);
  }
  const tags = [...new Set([...Object.keys(after), ...Object.keys(before)])];
  report.labels = tags.map((tag) => ({ tag, before: before[tag] ?? 0, after: after[tag] ?? 0 })).sort((a, b) => b.after - a.after || a.tag.localeCompare(b.tag));
  if (options.rename && options.renameDir) report.renameMap = await joinRenameMap(options.renameDir, units);
  return report;
}

function tally(report: RetagReport, before: Record<string, number>, after: Record<string, number>, result: UnitReport): void {
  if (result.skipped) report.skippedUnits++;
  report.rows += result.rows;
  report.renamed += result.renamed;
  for (const [tag, n] of Object.entries(result.before)) before[tag] = (before[tag] ?? 0) + n;
  for (const [tag, n] of Object.entries(result.after)) after[tag] = (after[tag] ?? 0) + n;
}

/** The units' rename files, concatenated into one rename-map.csv (written last). */
async function joinRenameMap(dir: string, units: string[]): Promise<string> {
  const target = path.join(dir, 'rename-map.csv');
  const out = await openOutputFile(target);
  await out.write(RENAME_MAP_HEADER);
  for (const unit of units) {
    const file = path.join(dir, 'units', `${unit}.csv`);
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    if (text) await out.write(text);
  }
  await out.commit();
  return target;
}
