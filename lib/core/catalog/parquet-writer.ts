/**
 * Parquet from Arrow record batches, streamed: parquet-wasm (the Rust `parquet` crate of Apache
 * Arrow, compiled to WebAssembly) takes each batch as Arrow IPC, encodes and compresses row groups
 * of at most `rowGroupRows` rows, and hands the file over in chunks, which are written with the
 * file stream's back-pressure. Memory: one row group in the wasm heap, whatever the export's size.
 *
 * Why a library, not our own encoder: Parquet's encodings (dictionary, RLE/bit-packed levels for
 * nullable and nested list columns), page and column statistics, compression and the Thrift
 * footer are a lot of format to get right, and every reader (DuckDB, Spark, pandas) must agree
 * with us. parquet-wasm is maintained, has no dependencies, no install script, and its Node
 * build loads from CommonJS.
 */
import { openAsBlob } from 'node:fs';
import { type RecordBatch, type Schema, Table as ArrowTable, tableToIPC } from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import type { OutputFile } from '../io/output-file';

export interface ParquetWriteOptions {
  /** Rows per row group at most. @default 65,536 */
  rowGroupRows?: number;
  /**
   * Columns whose values are (nearly) all distinct: written without trying a dictionary, which
   * could only be abandoned (10% less CPU and 4% smaller on the bench store). @default none
   */
  plainColumns?: readonly string[];
  onBatch?: (rows: number) => void;
}

export const PARQUET_DEFAULTS = { rowGroupRows: 65_536 };

function writerProperties(options: ParquetWriteOptions): parquet.WriterProperties {
  let builder = new parquet.WriterPropertiesBuilder();
  for (const column of options.plainColumns ?? []) builder = builder.setColumnDictionaryEnabled(column, false);
  return builder
    .setCompression(parquet.Compression.SNAPPY)
    .setMaxRowGroupSize(options.rowGroupRows ?? PARQUET_DEFAULTS.rowGroupRows)
    .setCreatedBy('vista export (parquet-wasm)')
    .build();
}

function toWasm(batchOrSchema: RecordBatch | Schema): parquet.Table {
  const table = 'numRows' in batchOrSchema ? new ArrowTable([batchOrSchema]) : new ArrowTable(batchOrSchema);
  return parquet.Table.fromIPCStream(tableToIPC(table, 'stream'));
}

/**
 * Writes every batch, in order, to `out` as one Parquet file with `schema`'s columns; returns the
 * rows written. parquet-wasm's stream writer does not report a batch it fails to write: check the
 * file's footer with `parquetRowCount` before publishing it.
 */
export async function writeParquet(batches: AsyncIterable<RecordBatch>, schema: Schema, out: OutputFile, options: ParquetWriteOptions = {}): Promise<number> {
  const iterator = batches[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) {
    // No rows: the stream writer needs a first batch for its schema, so the (small) file is made at once.
    await out.write(parquet.writeParquet(toWasm(schema), writerProperties(options)));
    return 0;
  }
  let rows = first.value.numRows;
  let pending = toWasm(first.value).recordBatches();
  options.onBatch?.(rows);
  let failure: unknown;
  // Pulled by the writer one batch at a time (highWaterMark 0): the scan is not read ahead of it.
  const input = new ReadableStream<parquet.RecordBatch>(
    {
      async pull(controller) {
        try {
          while (pending.length === 0) {
            const next = await iterator.next();
            if (next.done) return controller.close();
            rows += next.value.numRows;
            pending = toWasm(next.value).recordBatches();
            options.onBatch?.(rows);
          }
          controller.enqueue(pending.shift()!);
        } catch (err) {
          failure = err;
          controller.error(err);
        }
      },
    },
    { highWaterMark: 0 },
  );
  const bytes = (await parquet.transformParquetStream(input, writerProperties(options))) as unknown as AsyncIterable<Uint8Array>;
  for await (const chunk of bytes) await out.write(chunk);
  if (failure) throw failure;
  return rows;
}

/** The row count in a Parquet file's footer (only the footer is read). */
export async function parquetRowCount(file: string): Promise<number> {
  const handle = await parquet.ParquetFile.fromFile(await openAsBlob(file));
  try {
    return handle.metadata().fileMetadata().numRows();
  } finally {
    handle.free();
  }
}
