/**
 * Streaming reads of the images table: LanceDB hands a query's result over as Arrow record
 * batches with back-pressure, so a scan of the whole catalog holds one batch at a time.
 */
import type * as lancedb from '@lancedb/lancedb';
import type { RecordBatch } from 'apache-arrow';
import { SystemErrorCode, VistaError } from '../errors';
import { TableName, type VistaStore } from '../store/connect';

export interface ScanOptions {
  /** Columns to read; all when omitted. */
  columns?: readonly string[];
  /** A LanceDB SQL filter, e.g. `hotel_id = 'h1'`. */
  where?: string;
  /** Rows per batch at most. @default 8192 */
  batchRows?: number;
}

/** The images table, or a STORE_FAILED error that says the store has none yet. */
export async function imagesTable(store: VistaStore): Promise<lancedb.Table> {
  const table = await store.table(TableName.images);
  if (!table) throw new VistaError(SystemErrorCode.STORE_FAILED, `${store.uri} has no ${TableName.images} table: load some worker output first`);
  return table;
}

/** The table's column names, in order. */
export async function columnNames(table: lancedb.Table): Promise<string[]> {
  return (await table.schema()).fields.map((f) => f.name);
}

/** Every matching row, batch by batch. */
export async function* scanBatches(table: lancedb.Table, options: ScanOptions = {}): AsyncGenerator<RecordBatch> {
  let query = table.query();
  if (options.columns) query = query.select([...options.columns]);
  if (options.where) query = query.where(options.where);
  // execute() is protected; the query's async iterator runs it with default options.
  const batches = (query as unknown as { execute(o: { maxBatchLength: number }): AsyncGenerator<RecordBatch> }).execute({
    maxBatchLength: options.batchRows ?? 8192,
  });
  for await (const batch of batches) if (batch.numRows > 0) yield batch;
}
