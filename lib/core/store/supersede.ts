/**
 * "The latest enrichment of an image wins": after a shard of newer outcomes is loaded, the rows and
 * failure records that older shards hold for the same images are deleted. Used by the real-time
 * ingest, where a re-upload replaces what an earlier upload (or the backfill) stored.
 *
 * Older means any shard outside the ordered family (`realtime/…`, ids sorting by time) and, inside
 * it, any shard id that sorts lower. A shard that finds a *newer* one already holding an image
 * deletes its own copy: so two ingests that overlap, in any interleaving of their loads and
 * supersedes, leave the newer outcome alone. Idempotent.
 */
import { ResultColumn } from '../pipeline/schema';
import { type VistaStore, TableName, openStore } from './connect';
import { ErrorColumn, StoreColumn, sqlString } from './tables';

/** Image ids per statement: keeps each SQL statement small. */
const IDS_PER_STATEMENT = 500;

export interface SupersedeResult {
  /** Rows of `images` deleted (older copies, or this shard's own where a newer shard won). */
  images: number;
  /** Rows of `image_errors` deleted. */
  imageErrors: number;
}

export interface SupersedeKeep {
  /** The shard whose outcomes are the latest, e.g. `realtime/<batch id>`. */
  shardId: string;
  /** The family of shards ordered by id, e.g. `realtime/`. */
  orderedPrefix: string;
}

export async function supersedeOlderShards(dbUri: string, keep: SupersedeKeep, imageIds: readonly string[]): Promise<SupersedeResult> {
  if (!keep.shardId.startsWith(keep.orderedPrefix)) throw new RangeError(`${keep.shardId} is not under ${keep.orderedPrefix}`);
  if (/[%_\\]/.test(keep.orderedPrefix)) throw new RangeError(`prefix ${keep.orderedPrefix} has LIKE wildcards`);
  const store = await openStore(dbUri, { readConsistencySeconds: 0 });
  try {
    return {
      images: await supersedeIn(store, TableName.images, ResultColumn.imageId, keep, imageIds),
      imageErrors: await supersedeIn(store, TableName.imageErrors, ErrorColumn.imageId, keep, imageIds),
    };
  } finally {
    store.close();
  }
}

async function supersedeIn(store: VistaStore, name: TableName, idColumn: string, keep: SupersedeKeep, imageIds: readonly string[]): Promise<number> {
  const table = await store.table(name);
  if (!table) return 0;
  const shard = StoreColumn.shardId;
  const self = sqlString(keep.shardId);
  const family = `${shard} LIKE ${sqlString(`${keep.orderedPrefix}%`)}`;
  let deleted = 0;
  const remove = async (predicate: string) => {
    const result = await store.commit(name, `supersede in ${name} for ${keep.shardId}`, () => table.delete(predicate));
    deleted += Number(result?.numDeletedRows ?? 0);
  };
  for (let i = 0; i < imageIds.length; i += IDS_PER_STATEMENT) {
    const ids = `${idColumn} IN (${imageIds.slice(i, i + IDS_PER_STATEMENT).map(sqlString).join(', ')})`;
    await remove(`${ids} AND (NOT (${family}) OR ${shard} < ${self})`);
    const newer = (await table.query().where(`${ids} AND ${family} AND ${shard} > ${self}`).select([idColumn]).toArray()) as Record<string, string>[];
    const lost = [...new Set(newer.map((row) => row[idColumn]))];
    if (lost.length > 0) await remove(`${idColumn} IN (${lost.map(sqlString).join(', ')}) AND ${shard} = ${self}`);
  }
  return deleted;
}
