/**
 * Arrow batches in the shape of Vista's tables, built column-wise: part files pass through
 * without touching a single row (their columns are reused as is), and the columns a load adds
 * are constants built straight into buffers.
 */
import {
  type Data,
  Field,
  Int64,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Utf8,
  makeData,
  vectorFromArray,
} from 'apache-arrow';
import { CATALOG_COLUMNS_ADDED_LATER, ResultColumn } from '../pipeline/schema';
import type { FailureRecord } from '../pipeline/shard-output';
import { ErrorColumn, type LedgerRow, StoreColumn, imageErrorsSchema, ledgerSchema } from './tables';

export function constantUtf8(value: string, length: number): Data<Utf8> {
  const bytes = Buffer.from(value, 'utf8');
  const values = new Uint8Array(bytes.length * length);
  const offsets = new Int32Array(length + 1);
  for (let i = 0; i < length; i++) {
    values.set(bytes, i * bytes.length);
    offsets[i + 1] = (i + 1) * bytes.length;
  }
  return makeData({ type: new Utf8(), length, nullCount: 0, valueOffsets: offsets, data: values });
}

function nullUtf8(length: number): Data<Utf8> {
  return makeData({
    type: new Utf8(),
    length,
    nullCount: length,
    nullBitmap: new Uint8Array(Math.ceil(length / 8)),
    valueOffsets: new Int32Array(length + 1),
    data: new Uint8Array(0),
  });
}

function batchOf(fields: Field[], children: Data[], length: number): RecordBatch {
  const schema = new Schema(fields);
  return new RecordBatch(schema, makeData({ type: new Struct(fields), length, nullCount: 0, children }));
}

const RESULT_COLUMNS = Object.values(ResultColumn);

/**
 * A part file's batches with `shard_id` and `load_id` appended, columns in the images table's
 * order. The embedding stays as the worker wrote it (float32): Lance casts it to the table's type.
 */
export function partToImageBatches(part: Table, shardId: string, loadId: string): RecordBatch[] {
  return part.batches.map((batch) => {
    const fields: Field[] = [];
    const children: Data[] = [];
    for (const name of RESULT_COLUMNS) {
      const index = batch.schema.fields.findIndex((f) => f.name === name);
      if (index < 0 && (CATALOG_COLUMNS_ADDED_LATER as readonly string[]).includes(name)) {
        // A part written before the column existed.
        fields.push(new Field(name, new Utf8(), true));
        children.push(nullUtf8(batch.numRows));
        continue;
      }
      fields.push(batch.schema.fields[index]);
      children.push(batch.data.children[index]);
    }
    fields.push(new Field(StoreColumn.shardId, new Utf8(), false), new Field(StoreColumn.loadId, new Utf8(), false));
    children.push(constantUtf8(shardId, batch.numRows), constantUtf8(loadId, batch.numRows));
    return batchOf(fields, children, batch.numRows);
  });
}

/** Batches → one table. All must share a schema, which partToImageBatches guarantees per shard. */
export function tableOf(batches: RecordBatch[]): Table {
  return new Table(batches[0].schema, batches);
}

export function failuresTable(failures: FailureRecord[], shardId: string, loadId: string): Table {
  const schema = imageErrorsSchema();
  const utf8 = (values: string[]) => vectorFromArray(values, new Utf8()).data[0];
  const children: Data[] = [
    utf8(failures.map((f) => f.image_id)),
    utf8(failures.map((f) => f.source_uri)),
    utf8(failures.map((f) => f.error_code)),
    utf8(failures.map((f) => f.message ?? '')),
    constantUtf8(shardId, failures.length),
    constantUtf8(loadId, failures.length),
  ];
  const names = [ErrorColumn.imageId, ErrorColumn.sourceUri, ErrorColumn.errorCode, ErrorColumn.message, StoreColumn.shardId, StoreColumn.loadId];
  if (schema.fields.some((f, i) => f.name !== names[i])) throw new Error('image_errors schema and builder disagree');
  return new Table(schema, [batchOf(schema.fields, children, failures.length)]);
}

export function ledgerTable(row: LedgerRow): Table {
  const schema = ledgerSchema();
  const children = schema.fields.map((f) => {
    const value = row[f.name as keyof LedgerRow];
    return vectorFromArray([f.type instanceof Int64 ? BigInt(value as number) : value] as never, f.type).data[0];
  });
  return new Table(schema, [batchOf(schema.fields, children, 1)]);
}
