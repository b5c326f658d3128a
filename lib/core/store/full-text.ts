/**
 * Full-text indexes (LanceDB FTS, BM25) on tags, hotel name and city: the text half of hybrid
 * search. Named apart from the scalar indexes on the same columns (tags has a LABEL_LIST too).
 */
import * as lancedb from '@lancedb/lancedb';
import { ResultColumn as C } from '../pipeline/schema';
import { TableName, type VistaStore } from './connect';
import type { IndexOutcome } from './indexer';

export const FULL_TEXT_COLUMNS = [C.tags, C.hotelName, C.city] as const;

const indexName = (column: string) => `${column}_fts`;
const ftsByTable = new WeakMap<lancedb.Table, Promise<string[]>>();

/** The FULL_TEXT_COLUMNS that carry an FTS index (read once per table handle). */
export function fullTextIndexedColumns(table: lancedb.Table): Promise<string[]> {
  let columns = ftsByTable.get(table);
  if (!columns) {
    columns = table
      .listIndices()
      .then((indices) => FULL_TEXT_COLUMNS.filter((c) => indices.some((i) => i.indexType === 'FTS' && i.columns.includes(c))));
    ftsByTable.set(table, columns);
  }
  return columns;
}

/** Creates the missing FTS indexes (all with `force`); optimize keeps existing ones up to date. */
export async function buildFullTextIndexes(store: VistaStore, images: lancedb.Table, force: boolean, log: (m: string) => void): Promise<IndexOutcome[]> {
  const present = new Set((await images.schema()).fields.map((f) => f.name));
  const indices = await images.listIndices();
  const outcomes: IndexOutcome[] = [];
  for (const column of FULL_TEXT_COLUMNS) {
    const base = { table: images.name, column, type: 'FTS' };
    if (!present.has(column)) {
      outcomes.push({ ...base, action: 'skipped', reason: 'no such column (store written before it)', ms: 0 });
      continue;
    }
    const existing = indices.some((i) => i.name === indexName(column));
    if (existing && !force) {
      outcomes.push({ ...base, action: 'kept', reason: 'exists; optimize added new rows to it', ms: 0 });
      continue;
    }
    const t0 = Date.now();
    log(`FTS index on ${images.name}.${column}`);
    const config = lancedb.Index.fts({ asciiFolding: true, withPosition: false });
    await store.commit(TableName.images, `FTS index ${column}`, () => images.createIndex(column, { config, name: indexName(column), replace: true }));
    outcomes.push({ ...base, action: existing ? 'replaced' : 'created', ms: Date.now() - t0 });
  }
  return outcomes;
}
