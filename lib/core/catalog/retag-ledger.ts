/**
 * The retag ledger: per (taxonomy, unit) a `started` row written before the unit's commit, with
 * what only the state before the commit can tell (tag counts before, names changed), and a
 * `done` row written after it. A rerun skips `done` units; a unit killed before its `done` row is
 * recomputed, which gives the same values (re-tagging is a pure function of the stored
 * embedding), and takes its before-figures from its first `started` row.
 */
import type * as lancedb from '@lancedb/lancedb';
import { Field, Int64, Schema, Table, TimestampMillisecond, Utf8, vectorFromArray, RecordBatch, Struct, makeData } from 'apache-arrow';
import type { TableName, VistaStore } from '../store/connect';
import { sqlString } from '../store/tables';

/** Not in TableName (lib/core/store/connect.ts): the catalog tools own this table. */
export const RETAG_LEDGER_TABLE = 'retag_ledger';

export interface RetagLedgerRow {
  taxonomy_id: string;
  /** The unit: a shard_id of the images table. */
  unit: string;
  event: 'started' | 'done';
  rows: number;
  /** JSON tag → count, before and after. */
  before: string;
  after: string;
  renamed: number;
  at: Date;
}

export function retagLedgerSchema(): Schema {
  return new Schema([
    new Field('taxonomy_id', new Utf8(), false),
    new Field('unit', new Utf8(), false),
    new Field('event', new Utf8(), false),
    new Field('rows', new Int64(), false),
    new Field('before', new Utf8(), false),
    new Field('after', new Utf8(), false),
    new Field('renamed', new Int64(), false),
    new Field('at', new TimestampMillisecond(), false),
  ]);
}

function ledgerTable(row: RetagLedgerRow): Table {
  const schema = retagLedgerSchema();
  const children = schema.fields.map((f) => {
    const value = row[f.name as keyof RetagLedgerRow];
    return vectorFromArray([f.type instanceof Int64 ? BigInt(value as number) : value] as never, f.type).data[0];
  });
  return new Table(schema, [new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: 1, nullCount: 0, children }))]);
}

/** The ledger table, created empty on first use. */
export async function openRetagLedger(store: VistaStore): Promise<lancedb.Table> {
  const name = RETAG_LEDGER_TABLE as TableName;
  return store.commit(name, 'open or create the retag ledger', async () => {
    try {
      return await store.connection.openTable(RETAG_LEDGER_TABLE);
    } catch {
      return store.connection.createEmptyTable(RETAG_LEDGER_TABLE, retagLedgerSchema(), { mode: 'create', existOk: true });
    }
  });
}

export interface RetagHistory {
  /** Per unit, its first `started` row. */
  started: Map<string, RetagLedgerRow>;
  done: Map<string, RetagLedgerRow>;
}

export async function readRetagLedger(ledger: lancedb.Table, taxonomyId: string): Promise<RetagHistory> {
  const raw = (await ledger.query().where(`taxonomy_id = ${sqlString(taxonomyId)}`).toArray()) as Record<string, unknown>[];
  const rows: RetagLedgerRow[] = raw.map((r) => ({
    taxonomy_id: String(r.taxonomy_id),
    unit: String(r.unit),
    event: r.event === 'done' ? 'done' : 'started',
    rows: Number(r.rows),
    before: String(r.before),
    after: String(r.after),
    renamed: Number(r.renamed),
    at: new Date(Number(r.at)),
  }));
  rows.sort((a, b) => a.at.getTime() - b.at.getTime());
  const history: RetagHistory = { started: new Map(), done: new Map() };
  for (const row of rows) {
    const map = row.event === 'done' ? history.done : history.started;
    if (!map.has(row.unit)) map.set(row.unit, row);
  }
  return history;
}

export async function recordRetagged(store: VistaStore, ledger: lancedb.Table, row: RetagLedgerRow): Promise<void> {
  await store.commit(RETAG_LEDGER_TABLE as TableName, `retag ledger: unit ${row.event}`, () => ledger.add(ledgerTable(row)));
}
