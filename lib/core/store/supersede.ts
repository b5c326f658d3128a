/**
 * "The latest enrichment of an image wins": after a shard of newer outcomes is loaded, the rows and
 * failure records that other shards hold for the same images are deleted. Used by the real-time
 * ingest, where a re-upload replaces what an earlier upload (or the backfill) stored. Idempotent:
 * running it again deletes nothing more.
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

export async function supersedeOtherShards(dbUri: string, keepShardId: string, imageIds: readonly string[]): Promise<SupersedeResult> {
  const store = await openStore(dbUri, { readConsistencySeconds: 0 });
  try {
    return {
      images: await deleteOthers(store, TableName.images, ResultColumn.imageId, keepShardId, imageIds),
      imageErrors: await deleteOthers(store, TableName.imageErrors, ErrorColumn.imageId, keepShardId, imageIds),
    };
  } finally {
    store.close();
  }
}

async function deleteOthers(store: VistaStore, name: TableName, idColumn: string, keepShardId: string, imageIds: readonly string[]): Promise<number> {
  const table = await store.table(name);
  if (!table) return 0;
  let deleted = 0;
  for (let i = 0; i < imageIds.length; i += IDS_PER_DELETE) {
    const ids = imageIds.slice(i, i + IDS_PER_DELETE).map(sqlString).join(', ');
    const predicate = `${idColumn} IN (${ids}) AND ${StoreColumn.shardId} <> ${sqlString(keepShardId)}`;
    const before = await table.countRows(predicate);
    if (before === 0) continue;
    await store.commit(name, `supersede ${name} rows of ${keepShardId}`, () => table.delete(predicate));
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
