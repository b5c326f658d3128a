/**
 * Schemas of Vista's LanceDB tables and creating them safely when several loaders start at once.
 *
 * `images` is the worker's result schema plus where each row came from (`shard_id`) and which load
 * attempt wrote it (`load_id`); the embedding is stored as float16 by default (see docs/store.md).
 */
import type * as lancedb from '@lancedb/lancedb';
import { Field, FixedSizeList, Float16, Float32, Int32, Int64, Schema, TimestampMillisecond, Utf8 } from 'apache-arrow';
import { SystemErrorCode, VistaError } from '../errors';
import { ResultColumn, resultSchema } from '../pipeline/schema';
import { TableName, type VistaStore, openStore } from './connect';
import { errorMessage, isCommitConflict } from './commit-retry';

export type EmbeddingPrecision = 'float16' | 'float32';

export const StoreColumn = {
  shardId: 'shard_id',
  loadId: 'load_id',
} as const;

export function imagesSchema(embedDim: number, precision: EmbeddingPrecision = 'float16'): Schema {
  const fields = resultSchema(embedDim).fields.map((f) =>
    f.name === ResultColumn.embedding
      ? new Field(f.name, new FixedSizeList(embedDim, new Field('item', precision === 'float16' ? new Float16() : new Float32(), true)), false)
      : f,
  );
  return new Schema([...fields, new Field(StoreColumn.shardId, new Utf8(), false), new Field(StoreColumn.loadId, new Utf8(), false)]);
}

export const ErrorColumn = {
  imageId: 'image_id',
  sourceUri: 'source_uri',
  errorCode: 'error_code',
  message: 'message',
} as const;

export function imageErrorsSchema(): Schema {
  return new Schema([
    new Field(ErrorColumn.imageId, new Utf8(), false),
    new Field(ErrorColumn.sourceUri, new Utf8(), false),
    new Field(ErrorColumn.errorCode, new Utf8(), false),
    new Field(ErrorColumn.message, new Utf8(), false),
    new Field(StoreColumn.shardId, new Utf8(), false),
    new Field(StoreColumn.loadId, new Utf8(), false),
  ]);
}

/** A load attempt begins with `started` and, once all its rows are in, is committed by `loaded`. */
export type LedgerEvent = 'started' | 'loaded';

export interface LedgerRow {
  shard_id: string;
  event: LedgerEvent;
  /** The attempt's id, also on every row it writes; ids of one shard sort in attempt order. */
  load_id: string;
  rows: number;
  failed: number;
  parts: number;
  /** SHA-256 of the shard's summary.json: a re-run worker output is a different load. */
  fingerprint: string;
  shard_uri: string;
  at: Date;
}

export function ledgerSchema(): Schema {
  return new Schema([
    new Field('shard_id', new Utf8(), false),
    new Field('event', new Utf8(), false),
    new Field('load_id', new Utf8(), false),
    new Field('rows', new Int64(), false),
    new Field('failed', new Int64(), false),
    new Field('parts', new Int32(), false),
    new Field('fingerprint', new Utf8(), false),
    new Field('shard_uri', new Utf8(), false),
    new Field('at', new TimestampMillisecond(), false),
  ]);
}

/**
 * Opens a table, creating it empty if missing. Loaders race to create tables on a fresh database:
 * the losers open the winner's table, which may for a moment be listed before it can be opened.
 */
export async function ensureTable(store: VistaStore, name: TableName, schema: Schema): Promise<lancedb.Table> {
  return store.commit(
    name,
    `open or create table ${name}`,
    async () => {
      const existing = await store.table(name);
      if (existing) return existing;
      try {
        await store.connection.createEmptyTable(name, schema, { mode: 'create', existOk: true });
      } catch (err) {
        if (!/already exists/i.test(errorMessage(err))) throw err;
      }
      store.forget(name);
      const table = await store.table(name);
      // Retried below: another loader's creation may not be visible yet.
      if (!table) throw new Error(`table ${name} not found right after creating it`);
      return table;
    },
    (err) => isCommitConflict(err) || isBeingCreated(err),
  );
}

function isBeingCreated(err: unknown): boolean {
  return /could not be loaded|not found|already exists/i.test(errorMessage(err));
}

/** The embedding width of an existing images table. */
export async function storedEmbeddingDim(table: lancedb.Table): Promise<number> {
  const field = (await table.schema()).fields.find((f) => f.name === ResultColumn.embedding);
  const type = field?.type as FixedSizeList | undefined;
  if (!type || typeof type.listSize !== 'number') {
    throw new VistaError(SystemErrorCode.STORE_FAILED, `table ${table.name} has no ${ResultColumn.embedding} vector column`);
  }
  return type.listSize;
}

/** SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** The embedding width of the store's images table; undefined while there is no such table. */
export async function storeEmbeddingDim(dbUri: string): Promise<number | undefined> {
  const store = await openStore(dbUri, { readConsistencySeconds: 0 });
  try {
    const images = await store.table(TableName.images);
    return images ? await storedEmbeddingDim(images) : undefined;
  } finally {
    store.close();
  }
}
