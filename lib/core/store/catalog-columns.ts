/**
 * Stores written before `hotel_name` and `city` existed: the images table gains them as null
 * columns before a load appends rows that carry them (schema evolution, no rewrite), and readers
 * select only the columns a table has, taking a missing one as null.
 */
import type * as lancedb from '@lancedb/lancedb';
import { CATALOG_COLUMNS_ADDED_LATER } from '../pipeline/schema';
import { TableName, type VistaStore } from './connect';

/** Names of the later catalog columns this table lacks. */
export async function missingCatalogColumns(table: lancedb.Table): Promise<string[]> {
  const present = new Set((await table.schema()).fields.map((f) => f.name));
  return CATALOG_COLUMNS_ADDED_LATER.filter((name) => !present.has(name));
}

/** Adds the missing later columns (all null) to an old images table; a no-op on current tables. */
export async function addMissingCatalogColumns(store: VistaStore, table: lancedb.Table): Promise<string[]> {
  const missing = await missingCatalogColumns(table);
  if (missing.length === 0) return [];
  await store.commit(TableName.images, 'add catalog columns', async () => {
    const still = await missingCatalogColumns(table);
    if (still.length) await table.addColumns(still.map((name) => ({ name, valueSql: 'CAST(NULL AS STRING)' })));
  });
  return missing;
}
