/**
 * Re-tagging from stored embeddings: tags are a function of the embedding and the label bank, so
 * a new taxonomy is applied to the catalog without reading or embedding a single image.
 *
 * Work goes unit by unit (a unit = the rows of one shard_id). Each unit: read its rows, check they
 * were embedded by the label bank's model, score every embedding (the worker's scorer), write the
 * new tags, tag_scores and taxonomy_id (and, with rename, seo_filename) in one merge-insert commit
 * keyed on (image_id, load_id), then record the unit in the retag ledger. Reruns skip recorded
 * units; a unit cut short is redone and gives the same values.
 *
 * Each unit's commit runs under the store's writer lease (runRetag passes withWriterLease), so a
 * re-tag never interleaves with a backfill's loads, compaction or index build.
 */
import type * as lancedb from '@lancedb/lancedb';
import { Field, Float32, List, RecordBatch, Schema, Struct, Table, Utf8, type Vector, makeData, vectorFromArray, type Data } from 'apache-arrow';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SystemErrorCode, VistaError } from '../errors';
import { seoFilename } from '../naming/seo';
import { ResultColumn as C } from '../pipeline/schema';
import { TableName, type VistaStore } from '../store/connect';
import { StoreColumn, sqlString } from '../store/tables';
import { type LabelBank, makeTagger, type Tagger, taxonomyId as taxonomyIdOf } from '../tags';
import type { Taxonomy } from '../tags';
import type { ImageFormat } from '../types';
import { packedEmbeddings } from './embedding-column';
import { csvField, openOutputFile } from './output-file';
import { imagesTable, scanBatches } from './scan';
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

function countInto(counts: Record<string, number>, tags: Iterable<string>): void {
  for (const tag of tags) counts[tag] = (counts[tag] ?? 0) + 1;
}

function listColumn<T extends Utf8 | Float32>(values: (string[] | Float32Array)[], item: T): Data<List<T>> {
  return vectorFromArray(values as never, new List(new Field('item', item, true))).data[0] as Data<List<T>>;
}

interface Retagged {
  batch: RecordBatch;
  renames: string;
  renamed: number;
}

/** One batch of stored rows → the same rows with new tags (and names), ready to merge. */
export function retagBatch(batch: RecordBatch, tagger: Tagger, taxId: string, modelId: string, rename: boolean, before: Record<string, number>, after: Record<string, number>): Retagged {
  const models = batch.getChild(C.modelId)!;
  for (let i = 0; i < models.length; i++) {
    if (models.get(i) !== modelId) {
      throw new VistaError(
        SystemErrorCode.MODEL_INVALID,
        `row ${batch.getChild(C.imageId)!.get(i)} was embedded by model ${models.get(i)}, the label bank by ${modelId}: re-tagging needs the same model`,
      );
    }
  }
  const { values, dim, rows } = packedEmbeddings(batch.getChild(C.embedding)!);
  const oldTags = batch.getChild(C.tags) as Vector<List<Utf8>>;
  const tags: string[][] = [];
  const scores: Float32Array[] = [];
  for (let i = 0; i < rows; i++) {
    const result = tagger.tag(values.subarray(i * dim, (i + 1) * dim));
    tags.push(result.tags);
    scores.push(Float32Array.from(result.scores));
    const previous = oldTags.get(i);
    if (previous) countInto(before, previous as Iterable<string>);
    countInto(after, result.tags);
  }
  const replaced: Record<string, Data> = {
    [C.tags]: listColumn(tags, new Utf8()),
    [C.tagScores]: listColumn(scores, new Float32()),
    [C.taxonomyId]: vectorFromArray(new Array(rows).fill(taxId), new Utf8()).data[0],
  };
  let renames = '';
  let renamed = 0;
  if (rename) {
    const ids = batch.getChild(C.imageId)!;
    const formats = batch.getChild(C.format)!;
    const oldNames = batch.getChild(C.seoFilename)!;
    const hotelNames = batch.getChild('hotel_name');
    const cities = batch.getChild('city');
    const sources = batch.getChild(C.sourceUri)!;
    const hotels = batch.getChild(C.hotelId)!;
    const names = tags.map((t, i) =>
      seoFilename({ imageId: ids.get(i), format: formats.get(i) as ImageFormat, hotelName: hotelNames?.get(i) ?? undefined, city: cities?.get(i) ?? undefined, tags: t }),
    );
    names.forEach((name, i) => {
      if (name === oldNames.get(i)) return;
      renamed++;
      renames += `${[sources.get(i), ids.get(i), hotels.get(i) ?? '', oldNames.get(i), name].map((v) => csvField(String(v))).join(',')}\n`;
    });
    replaced[C.seoFilename] = vectorFromArray(names, new Utf8()).data[0];
  }
  const fields = batch.schema.fields.map((f) => (replaced[f.name] ? new Field(f.name, replaced[f.name].type, f.nullable) : f));
  const children = batch.schema.fields.map((f, i) => replaced[f.name] ?? batch.data.children[i]);
  const schema = new Schema(fields);
  return { batch: new RecordBatch(schema, makeData({ type: new Struct(fields), length: rows, nullCount: 0, children })), renames, renamed };
}

export const RENAME_MAP_HEADER = 'source_uri,image_id,hotel_id,old_seo_filename,seo_filename\n';

async function retagUnit(
  options: RetagOptions,
  images: lancedb.Table,
  ledger: lancedb.Table,
  tagger: Tagger,
  taxId: string,
  unit: string,
  history: RetagHistory,
): Promise<UnitReport> {
  const before: Record<string, number> = {};
  const after: Record<string, number> = {};
  const batches: RecordBatch[] = [];
  let renames = '';
  let renamed = 0;
  let rows = 0;
  for await (const batch of scanBatches(images, { where: `${StoreColumn.shardId} = ${sqlString(unit)}`, batchRows: 16_384 })) {
    const result = retagBatch(batch, tagger, taxId, options.bank.modelId, options.rename === true, before, after);
    batches.push(result.batch);
    renames += result.renames;
    renamed += result.renamed;
    rows += batch.numRows;
  }
  const started = history.started.get(unit);
  if (started) {
    // A rerun of a unit whose commit may have happened: the state before it is in the ledger.
    Object.keys(before).forEach((tag) => delete before[tag]);
    Object.assign(before, JSON.parse(started.before));
    renamed = started.renamed;
  } else {
    if (options.rename && options.renameDir) {
      const out = await openOutputFile(path.join(options.renameDir, 'units', `${unit}.csv`));
      await out.write(renames);
      await out.commit();
    }
    await recordRetagged(options.store, ledger, { taxonomy_id: taxId, unit, event: 'started', rows, before: JSON.stringify(before), after: '{}', renamed, at: new Date() });
  }
  if (batches.length > 0) {
    const commit = () =>
      options.store.commit(TableName.images, `retag ${unit}`, () =>
        images.mergeInsert([C.imageId, StoreColumn.loadId]).whenMatchedUpdateAll().execute(new Table(batches[0].schema, batches)),
      );
    await (options.withWriterLease ? options.withWriterLease(unit, commit) : commit());
  }
  const row: RetagLedgerRow = { taxonomy_id: taxId, unit, event: 'done', rows, before: JSON.stringify(before), after: JSON.stringify(after), renamed, at: new Date() };
  await recordRetagged(options.store, ledger, row);
  return { unit, rows, renamed, skipped: false, before, after };
}

export async function retagStore(options: RetagOptions): Promise<RetagReport> {
  const taxId = taxonomyIdOf(options.taxonomy);
  const tagger = makeTagger(options.bank, options.taxonomy, options.logitScale);
  const images = await imagesTable(options.store);
  const ledger = await openRetagLedger(options.store);
  const done = await readRetagLedger(ledger, taxId);
  const all = options.units ?? (await listUnits(images));
  const units = options.partition ? unitsOfPartition(all, options.partition.index, options.partition.count) : all;
  const report: RetagReport = { taxonomyId: taxId, units: units.length, skippedUnits: 0, rows: 0, renamed: 0, labels: [] };
  const before: Record<string, number> = {};
  const after: Record<string, number> = {};
  let index = 0;
  for (const unit of units) {
    const recorded = done.done.get(unit);
    const result: UnitReport = recorded
      ? { unit, rows: recorded.rows, renamed: recorded.renamed, skipped: true, before: JSON.parse(recorded.before), after: JSON.parse(recorded.after) }
      : await retagUnit(options, images, ledger, tagger, taxId, unit, done);
    if (result.skipped) report.skippedUnits++;
    report.rows += result.rows;
    report.renamed += result.renamed;
    for (const [tag, n] of Object.entries(result.before)) before[tag] = (before[tag] ?? 0) + n;
    for (const [tag, n] of Object.entries(result.after)) after[tag] = (after[tag] ?? 0) + n;
    options.onUnit?.({ ...result, done: ++index, total: units.length });
  }
  const tags = [...new Set([...Object.keys(after), ...Object.keys(before)])];
  report.labels = tags.map((tag) => ({ tag, before: before[tag] ?? 0, after: after[tag] ?? 0 })).sort((a, b) => b.after - a.after || a.tag.localeCompare(b.tag));
  if (options.rename && options.renameDir) report.renameMap = await joinRenameMap(options.renameDir, units);
  return report;
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
