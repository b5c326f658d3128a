/**
 * Loads one complete shard of worker output into LanceDB, idempotently and safely next to other
 * loaders (docs/store.md has the argument), holding the store's writer lease (writer-lease.ts):
 *   0 the store's model: recorded by the first load, another model refused (store-manifest.ts)
 *   1 ledger `started` row with this attempt's load_id (ordered after every attempt it can see)
 *   2 bulk appends of the shard's rows, tagged (shard_id, load_id), a few big commits
 *   3 supersede: other shards' rows of the same images are deleted (one row per image; supersede.ts)
 *   4 ledger `loaded` row → the commit point
 *   5 prune: delete the shard's rows of earlier attempts (or all of ours if a later one won)
 * Appends never conflict with each other, a crash anywhere leaves rows that the next attempt's
 * prune removes, and a shard loaded twice at once converges to the higher load_id.
 * No mergeInsert: concurrent merge-inserts of new keys can insert duplicates (lance#4585).
 */
import type * as lancedb from '@lancedb/lancedb';
import type { RecordBatch } from 'apache-arrow';
import { SystemErrorCode, TRANSIENT_IMAGE_ERROR_CODES, VistaError } from '../errors';
import { ResultColumn } from '../pipeline/schema';
import { type VistaStore, TableName, openStore } from './connect';
import { failuresTable, partToImageBatches, tableOf } from './arrow-batches';
import { type LedgerFacts, beginAttempt, readShardHistory, recordLoaded } from './ledger';
import { type CompleteShard, readCompleteShard, readFailures, readPart } from './shard-results';
import { addMissingCatalogColumns } from './catalog-columns';
import { ensureStoreModel, waitWhileTablesDrop } from './store-manifest';
import { type SupersedeResult, familyPredicate, shardFamily, supersedeImages } from './supersede';
import { type EmbeddingPrecision, StoreColumn, ensureTable, imageErrorsSchema, imagesSchema, ledgerSchema, sqlString, storedEmbeddingDim } from './tables';
import { type WriterLeaseOptions, withWriterLease } from './writer-lease';

export interface LoadProgress {
  shardId: string;
  partsRead: number;
  partsTotal: number;
  rowsAppended: number;
  rowsTotal: number;
}

/** Fault injection for tests: a hook that throws simulates a failure at that point. */
export interface LoadHooks {
  /** Make a hook's throw behave like a killed process (a Lambda timeout): no cleanup runs after it. */
  crash?: boolean;
  /** After every row and failure is appended, before other shards' rows of the images are superseded. */
  afterAppend?: () => Promise<void> | void;
  /** After other shards' rows of the images are deleted, before the ledger records the load. */
  afterSupersede?: () => Promise<void> | void;
  /** After the ledger records the load, before other attempts' rows are pruned. */
  afterRecord?: () => Promise<void> | void;
}

export interface LoadShardOptions {
  dbUri: string;
  /** The shard's result folder (local or s3://) holding part-*.arrow, errors.jsonl, summary.json. */
  shardResultsUri: string;
  shardId: string;
  onProgress?: (progress: LoadProgress) => void;
  /** Load even if the ledger says this exact output is already loaded. */
  force?: boolean;
  /** Rows per append commit: bounds memory (≈ 2.3 kB per 512-d row). @default 50_000 */
  appendBatchRows?: number;
  /** Used only when this load creates the images table. @default 'float16' */
  embeddingPrecision?: EmbeddingPrecision;
  hooks?: LoadHooks;
  /**
   * The writer this load belongs to, which takes the store's writer lease: a backfill's run id.
   * @default the shard id's family without its slash (`<runId>` for `<runId>/shard-00042`)
   */
  writer?: string;
  /** Waiting for, and holding, the writer lease. */
  lease?: Pick<WriterLeaseOptions, 'waitMs' | 'ttlMs' | 'pollMs' | 'logger'>;
  /**
   * The shard family whose ids sort by time (the real-time ingest's `realtime/`): a newer shard
   * of it keeps its rows against an older one loaded at the same time (supersede.ts).
   */
  orderedFamily?: string;
  /**
   * The store holds another model's embeddings: drop its tables and start new ones for this model
   * instead of refusing the load. Ask for it on a run's first load only, not on loads side by side.
   */
  newTable?: boolean;
}

export interface LoadShardResult {
  shardId: string;
  /** Rows the shard has in the store after this call (also when skipped). */
  loadedRows: number;
  failedRows: number;
  /** The ledger already had this exact shard output loaded: nothing was appended. */
  skipped: boolean;
  partsRead: number;
  /** The load attempt that owns the shard's rows. */
  loadId: string;
  /** Rows and failure records of other shards this load replaced (0 when skipped). */
  superseded: SupersedeResult;
}

/** The writer a shard's load belongs to when none is named. */
export function writerOfShard(shardId: string): string {
  return shardFamily(shardId).replace(/\/$/, '');
}

export async function loadShardResults(options: LoadShardOptions): Promise<LoadShardResult> {
  const shard = await readCompleteShard(options.shardResultsUri);
  // Every read must see other loaders' commits: the ledger decides who owns which rows.
  const store = await openStore(options.dbUri, { readConsistencySeconds: 0 });
  try {
    const lease = { ...options.lease, writer: options.writer ?? writerOfShard(options.shardId), operation: `load ${options.shardId}` };
    return await withWriterLease(options.dbUri, lease, () => loadWithStore(store, shard, options));
  } finally {
    store.close();
  }
}

async function loadWithStore(store: VistaStore, shard: CompleteShard, options: LoadShardOptions): Promise<LoadShardResult> {
  const { shardId } = options;
  const facts: LedgerFacts = { shard_id: shardId, fingerprint: shard.fingerprint, shard_uri: shard.uri };
  // Width 0: failures only, from a producer that knows no width yet (the real-time ingest before
  // its first success). Such a shard needs no images table and creates none.
  const widthless = shard.summary.embedding_dim === 0;
  if (widthless && shard.summary.parts.length > 0) {
    throw new VistaError(SystemErrorCode.OUTPUT_INVALID, `shard ${shardId} has rows but an embedding width of 0`);
  }
  if (!widthless && shard.summary.parts.some((p) => p.rows > 0)) {
    // A shard of failures only mixes no embeddings. First: a new table for another model drops the tables opened below.
    await ensureStoreModel(store, { modelId: shard.summary.model_id, embeddingDim: shard.summary.embedding_dim }, { newTable: options.newTable, shardId });
  } else {
    await waitWhileTablesDrop(store);
  }
  const ledger = await ensureTable(store, TableName.loadLedger, ledgerSchema());
  const images = widthless
    ? await store.table(TableName.images)
    : await ensureTable(store, TableName.images, imagesSchema(shard.summary.embedding_dim, options.embeddingPrecision));
  if (images) await addMissingCatalogColumns(store, images);
  const errors = await ensureTable(store, TableName.imageErrors, imageErrorsSchema());
  const storedDim = images ? await storedEmbeddingDim(images) : undefined;
  if (!widthless && storedDim !== shard.summary.embedding_dim) {
    throw new VistaError(SystemErrorCode.STORE_MODEL_MISMATCH, `shard ${shardId} has ${shard.summary.embedding_dim}-d embeddings, the store holds ${storedDim}-d`);
  }

  const before = await readShardHistory(ledger, shardId);
  const won = before.winner;
  // Attempts after the winner never finished (crashed, or still running): their rows may be there.
  const unsettled = won ? before.started.filter((id) => id > won.load_id) : before.started;
  if (!options.force && won?.fingerprint === shard.fingerprint && unsettled.length === 0) {
    // Already loaded. A retry of a load that crashed before its prune finishes that prune.
    if (before.started.some((id) => id < won.load_id)) await prune(store, images, errors, shardId, won.load_id, 'older');
    return { shardId, loadedRows: won.rows, failedRows: won.failed, skipped: true, partsRead: won.parts, loadId: won.load_id, superseded: NOTHING_SUPERSEDED };
  }

  const loadId = await beginAttempt(store, ledger, facts, before);
  let counts: { rows: number; failed: number; parts: number };
  let superseded = NOTHING_SUPERSEDED;
  let supersedeBegun = false;
  try {
    const appended = await appendShardOnce(store, images, errors, shard, loadId, options);
    counts = appended;
    await options.hooks?.afterAppend?.();
    if (await othersMayHoldImages(ledger, shardId, options.orderedFamily)) {
      supersedeBegun = true;
      superseded = await supersedeImages(store, { shardId, orderedPrefix: options.orderedFamily }, appended.imageIds, appended.transientlyFailed);
    }
    await options.hooks?.afterSupersede?.();
  } catch (err) {
    if (options.hooks?.crash) throw err;
    // Rows of an attempt that never records its load must not linger (search would see them)
    // until some later attempt succeeds and prunes them. If this cleanup dies too, that later
    // attempt still removes them: they stay `started` without `loaded`. Once the supersede has
    // begun, though, they may be the only copy of their images (the older ones deleted): they
    // stay, and the next attempt replaces them.
    if (!supersedeBegun) await prune(store, images, errors, shardId, loadId, 'exactly').catch(() => undefined);
    throw err;
  }
  await recordLoaded(store, ledger, facts, loadId, counts);
  await options.hooks?.afterRecord?.();

  const after = await readShardHistory(ledger, shardId);
  const winner = after.winner!;
  if (winner.load_id > loadId) {
    // A later attempt finished first: our rows are the stale copy.
    await prune(store, images, errors, shardId, loadId, 'exactly');
  } else if (after.started.some((id) => id < loadId)) {
    await prune(store, images, errors, shardId, loadId, 'older');
  }
  return { shardId, loadedRows: winner.rows, failedRows: winner.failed, skipped: false, partsRead: counts.parts, loadId: winner.load_id, superseded };
}

const NOTHING_SUPERSEDED: SupersedeResult = { images: 0, imageErrors: 0 };

/**
 * Whether another shard can hold rows of this shard's images: some shard of another family (or,
 * in an ordered family, any other shard) is in the ledger. A store's first backfill finds none
 * and so never looks up its images. Called after this load's `started` row is committed, so of two
 * ordered loads at once the later one always sees the earlier.
 */
async function othersMayHoldImages(ledger: lancedb.Table, shardId: string, orderedFamily: string | undefined): Promise<boolean> {
  const others = orderedFamily !== undefined ? `${StoreColumn.shardId} <> ${sqlString(shardId)}` : `NOT ${familyPredicate(shardFamily(shardId))}`;
  return (await ledger.query().where(others).select([StoreColumn.shardId]).limit(1).toArray()).length > 0;
}

/** Appends of one attempt that must land exactly once before the attempt gives up (STORE_FAILED). */
const APPEND_TRIES = 4;

/**
 * appendShard, checked to have landed exactly once. Lance commits a version with a conditional
 * PUT of its manifest; when the response to that PUT is lost, the object store's retry gets 412,
 * Lance takes its own commit for another writer's, rebases the append onto it and commits it
 * again: the rows are there twice, under this attempt's load_id (seen through the fault proxy
 * with conditional writes enforced, as on AWS S3). Such a double commit moves the table's version
 * by two or more; only then are this attempt's rows counted, and if they are not exactly what
 * was appended, they are deleted and appended again.
 */
async function appendShardOnce(
  store: VistaStore,
  images: lancedb.Table | undefined,
  errors: lancedb.Table,
  shard: CompleteShard,
  loadId: string,
  options: LoadShardOptions,
): Promise<{ rows: number; failed: number; parts: number; imageIds: string[]; transientlyFailed: Set<string> }> {
  for (let attempt = 1; ; attempt++) {
    const appended = await appendShard(store, images, errors, shard, loadId, options);
    if (!appended.versionSkipped) return appended;
    const mine = `${StoreColumn.shardId} = ${sqlString(options.shardId)} AND ${StoreColumn.loadId} = ${sqlString(loadId)}`;
    const found = { rows: images ? await images.countRows(mine) : 0, failed: await errors.countRows(mine) };
    if (found.rows === appended.rows && found.failed === appended.failed) return appended;
    if (attempt >= APPEND_TRIES) {
      throw new VistaError(
        SystemErrorCode.STORE_FAILED,
        `shard ${options.shardId}: appends did not land exactly once in ${APPEND_TRIES} tries (${found.rows} rows and ${found.failed} failures stored for ${appended.rows} and ${appended.failed})`,
      );
    }
    await prune(store, images, errors, options.shardId, loadId, 'exactly');
  }
}

/** Commits an append and says whether the table's version moved by more than this one commit. */
async function addAndWatch(store: VistaStore, name: TableName, what: string, table: lancedb.Table, data: ReturnType<typeof tableOf>): Promise<boolean> {
  return store.commit(name, what, async () => {
    const before = await table.version();
    await table.add(data);
    return (await table.version()) > before + 1;
  });
}

async function appendShard(
  store: VistaStore,
  images: lancedb.Table | undefined,
  errors: lancedb.Table,
  shard: CompleteShard,
  loadId: string,
  options: LoadShardOptions,
): Promise<{ rows: number; failed: number; parts: number; imageIds: string[]; transientlyFailed: Set<string>; versionSkipped: boolean }> {
  let versionSkipped = false;
  const { shardId } = options;
  const imageIds: string[] = [];
  const transientlyFailed = new Set<string>();
  const limit = options.appendBatchRows ?? 50_000;
  const partsTotal = shard.summary.parts.length;
  const rowsTotal = shard.summary.parts.reduce((n, p) => n + p.rows, 0);
  let pending: RecordBatch[] = [];
  let pendingRows = 0;
  let rowsAppended = 0;
  let partsRead = 0;
  const flush = async () => {
    if (pendingRows === 0) return;
    const table = tableOf(pending);
    if (await addAndWatch(store, TableName.images, `append ${shardId}`, images!, table)) versionSkipped = true;
    rowsAppended += pendingRows;
    pending = [];
    pendingRows = 0;
    options.onProgress?.({ shardId, partsRead, partsTotal, rowsAppended, rowsTotal });
  };
  for (const part of shard.summary.parts) {
    const table = await readPart(shard, part);
    partsRead++;
    pending.push(...partToImageBatches(table, shardId, loadId));
    for (const id of table.getChild(ResultColumn.imageId)!.toArray() as string[]) imageIds.push(id);
    pendingRows += table.numRows;
    if (pendingRows >= limit) await flush();
  }
  await flush();

  let failed = 0;
  for await (const failures of readFailures(shard, limit)) {
    const chunk = failuresTable(failures, shardId, loadId);
    if (await addAndWatch(store, TableName.imageErrors, `append failures ${shardId}`, errors, chunk)) versionSkipped = true;
    failed += failures.length;
    for (const f of failures) {
      imageIds.push(f.image_id);
      if (TRANSIENT_IMAGE_ERROR_CODES.has(f.error_code)) transientlyFailed.add(f.image_id);
    }
  }
  return { rows: rowsAppended, failed, parts: partsRead, imageIds, transientlyFailed, versionSkipped };
}

/** Deletes the shard's rows of attempts before `loadId` ('older') or of that attempt ('exactly'). */
async function prune(
  store: VistaStore,
  images: lancedb.Table | undefined,
  errors: lancedb.Table,
  shardId: string,
  loadId: string,
  which: 'older' | 'exactly',
): Promise<void> {
  const predicate = `${StoreColumn.shardId} = ${sqlString(shardId)} AND ${StoreColumn.loadId} ${which === 'older' ? '<' : '='} ${sqlString(loadId)}`;
  if (images) await store.commit(TableName.images, `prune ${shardId} in images`, () => images.delete(predicate));
  await store.commit(TableName.imageErrors, `prune ${shardId} in image_errors`, () => errors.delete(predicate));
}
