/**
 * "The latest load of an image wins": when a shard is loaded, the rows and failure records that
 * other shards hold for the same images are deleted, so a store has one row per image whatever
 * loaded it (two backfill runs, a backfill and the real-time ingest). The loader does this for
 * every load, before it records the load as complete (loader.ts), under the store's writer lease:
 * loads of different writers never overlap, so "other shards" hold older loads.
 *
 * Shards come in families, one per writer: the shard id up to its last `/` (`<runId>/`,
 * `realtime/`). Within a backfill run's family no image appears twice (planning dedupes), and its
 * shards load side by side, so only other families are superseded. The real-time family is
 * *ordered* (batch ids are UTC stamps) and its overlapping runs may load one image twice at once:
 * there a lower id is older, and a shard that finds a *newer* one already holding an image deletes
 * its own copy, so the newer outcome survives any interleaving. Idempotent. One exception: a
 * transient failure (the fetch failed, past its retries) never deletes an older good row.
 */
import { ResultColumn } from '../pipeline/schema';
import { type VistaStore, TableName, openStore } from './connect';
import { ErrorColumn, StoreColumn, sqlString } from './tables';
import { type WriterLeaseOptions, withWriterLease } from './writer-lease';

/** Image ids per lookup: keeps each SQL statement small. */
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
  /** An ordered family (ids sort by time), e.g. `realtime/`; absent: the shard's own family, unordered. */
  orderedPrefix?: string;
}

/** The family of a shard id: everything up to its last `/` (a run, `realtime/`), or the id itself. */
export function shardFamily(shardId: string): string {
  const slash = shardId.lastIndexOf('/');
  return slash >= 0 ? shardId.slice(0, slash + 1) : shardId;
}

/** SQL for "shard_id is in this family", as a range (a LIKE would treat `_` and `%` in run ids as wildcards). */
export function familyPredicate(family: string): string {
  const column = StoreColumn.shardId;
  if (!family.endsWith('/')) return `${column} = ${sqlString(family)}`;
  const upper = `${family.slice(0, -1)}${String.fromCharCode(family.charCodeAt(family.length - 1) + 1)}`;
  return `(${column} >= ${sqlString(family)} AND ${column} < ${sqlString(upper)})`;
}

/** Standalone supersede (the loader calls `supersedeImages` itself, inside its lease). */
export async function supersedeOlderShards(
  dbUri: string,
  keep: SupersedeKeep,
  imageIds: readonly string[],
  lease?: Partial<WriterLeaseOptions>,
): Promise<SupersedeResult> {
  if (keep.orderedPrefix !== undefined && !keep.shardId.startsWith(keep.orderedPrefix)) throw new RangeError(`${keep.shardId} is not under ${keep.orderedPrefix}`);
  const store = await openStore(dbUri, { readConsistencySeconds: 0 });
  try {
    const writer = lease?.writer ?? shardFamily(keep.shardId).replace(/\/$/, '');
    return await withWriterLease(dbUri, { operation: `supersede for ${keep.shardId}`, ...lease, writer }, () => supersedeImages(store, keep, imageIds));
  } finally {
    store.close();
  }
}

/**
 * `transientlyFailed`: images this shard holds only a transient failure for (TRANSIENT_IMAGE_ERROR_CODES):
 * an older good row of theirs is kept; older failure records are replaced as for any image.
 */
export async function supersedeImages(store: VistaStore, keep: SupersedeKeep, imageIds: readonly string[], transientlyFailed?: ReadonlySet<string>): Promise<SupersedeResult> {
  const replacingRows = transientlyFailed && transientlyFailed.size > 0 ? imageIds.filter((id) => !transientlyFailed.has(id)) : imageIds;
  return {
    images: await supersedeIn(store, TableName.images, ResultColumn.imageId, keep, replacingRows),
    imageErrors: await supersedeIn(store, TableName.imageErrors, ErrorColumn.imageId, keep, imageIds),
  };
}

async function supersedeIn(store: VistaStore, name: TableName, idColumn: string, keep: SupersedeKeep, imageIds: readonly string[]): Promise<number> {
  const table = await store.table(name);
  if (!table) return 0;
  const shard = StoreColumn.shardId;
  const self = sqlString(keep.shardId);
  const family = familyPredicate(keep.orderedPrefix ?? shardFamily(keep.shardId));
  const older = keep.orderedPrefix !== undefined ? `(NOT ${family} OR ${shard} < ${self})` : `NOT ${family}`;
  let deleted = 0;
  const idsOf = async (predicate: string) =>
    [...new Set(((await table.query().where(predicate).select([idColumn]).toArray()) as Record<string, string>[]).map((row) => row[idColumn]))];
  const remove = async (predicate: string) => {
    const result = await store.commit(name, `supersede in ${name} for ${keep.shardId}`, () => table.delete(predicate));
    deleted += Number(result?.numDeletedRows ?? 0);
  };
  const inList = (ids: readonly string[]) => `${idColumn} IN (${ids.map(sqlString).join(', ')})`;
  for (let i = 0; i < imageIds.length; i += IDS_PER_STATEMENT) {
    const ids = inList(imageIds.slice(i, i + IDS_PER_STATEMENT));
    // Look first, delete only what is there: a delete is a commit, a lookup is not.
    const stale = await idsOf(`${ids} AND ${older}`);
    if (stale.length > 0) await remove(`${inList(stale)} AND ${older}`);
    if (keep.orderedPrefix === undefined) continue;
    const lost = await idsOf(`${ids} AND ${family} AND ${shard} > ${self}`);
    if (lost.length > 0) await remove(`${inList(lost)} AND ${shard} = ${self}`);
  }
  return deleted;
}
