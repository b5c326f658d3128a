/**
 * "The latest enrichment of an image wins": after a shard of newer outcomes is loaded, the rows and
 * failure records that older shards hold for the same images are deleted. Used by the real-time
 * ingest, where a re-upload replaces what an earlier upload (or the backfill) stored. Older means
 * any shard outside the ordered family (`realtime/…`) and, inside it, any shard id that sorts
 * lower: two supersedes that overlap still leave the newer batch's row, never none. Idempotent.
 */
import { ResultColumn } from '../pipeline/schema';
import { type VistaStore, TableName, openStore } from './connect';
import { ErrorColumn, StoreColumn, sqlString, storedEmbeddingDim } from './tables';

/** Image ids per delete predicate: keeps each SQL statement small. */
const IDS_PER_DELETE = 500;

export interface SupersedeResult {
  /** Rows of `images` deleted. */
  images: number;
  /** Rows of `image_errors` deleted. */
  imageErrors: number;
}

export async function supersedeOlderShards(dbUri: string, keep: { shardId: string; orderedPrefix: string }, imageIds: readonly string[]): Promise<SupersedeResult> {
  if (!keep.shardId.startsWith(keep.orderedPrefix)) throw new RangeError(`${keep.shardId} is not under ${keep.orderedPrefix}`);
  if (/[%_\\]/.test(keep.orderedPrefix)) throw new RangeError(`prefix ${keep.orderedPrefix} has LIKE wildcards`);
  const shard = StoreColumn.shardId;
  const older = `(${shard} NOT LIKE ${sqlString(`${keep.orderedPrefix}%`)} OR ${shard} < ${sqlString(keep.shardId)})`;
  const store = await openStore(dbUri, { readConsistencySeconds: 0 });
  try {
    return {
      images: await deleteOlder(store, TableName.images, ResultColumn.imageId, older, imageIds),
      imageErrors: await deleteOlder(store, TableName.imageErrors, ErrorColumn.imageId, older, imageIds),
    };
  } finally {
    store.close();
  }
}

async function deleteOlder(store: VistaStore, name: TableName, idColumn: string, older: string, imageIds: readonly string[]): Promise<number> {
  const table = await store.table(name);
  if (!table) return 0;
  let deleted = 0;
  for (let i = 0; i < imageIds.length; i += IDS_PER_DELETE) {
    const ids = imageIds.slice(i, i + IDS_PER_DELETE).map(sqlString).join(', ');
    const predicate = `${idColumn} IN (${ids}) AND ${older}`;
    const before = await table.countRows(predicate);
    if (before === 0) continue;
    await store.commit(name, `supersede older ${name} rows`, () => table.delete(predicate));
    deleted += before;
  }
  return deleted;
}

/** The embedding width of the store's images table; undefined while there is no such table. */
export async function storeEmbeddingDim(dbUri: string): Promise<number | undefined> {
  const store = await openStore(dbUri);
  try {
    const images = await store.table(TableName.images);
    return images ? await storedEmbeddingDim(images) : undefined;
  } finally {
    store.close();
  }
}
