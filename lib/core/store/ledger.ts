/**
 * The load ledger: a small LanceDB table with one row per load attempt (`started`) and one per
 * completed load (`loaded`). It answers what idempotent loading asks of a shard:
 *   - which attempt owns its rows: the `loaded` attempt with the highest load_id, and
 *   - which other attempts may have written rows: every other `started` one.
 * load_id = zero-padded (highest sequence in the shard's ledger rows + 1) + random suffix, so an
 * attempt that begins after another's `started` row is visible sorts after it, with no clocks
 * involved; two attempts that begin at the same moment tie on the number and the suffix decides.
 */
import { randomBytes } from 'node:crypto';
import type * as lancedb from '@lancedb/lancedb';
import { ledgerTable } from './arrow-batches';
import { TableName, type VistaStore } from './connect';
import { type LedgerEvent, type LedgerRow, sqlString } from './tables';

export interface ShardHistory {
  /** load_ids of every attempt that began, in order. */
  started: string[];
  /** The completed load that owns the shard's rows, if any. */
  winner?: LedgerRow;
}

function toLedgerRow(raw: Record<string, unknown>): LedgerRow {
  return {
    shard_id: String(raw.shard_id),
    event: raw.event as LedgerEvent,
    load_id: String(raw.load_id),
    rows: Number(raw.rows),
    failed: Number(raw.failed),
    parts: Number(raw.parts),
    fingerprint: String(raw.fingerprint),
    shard_uri: String(raw.shard_uri),
    at: new Date(Number(raw.at)),
  };
}

export async function readShardHistory(ledger: lancedb.Table, shardId: string): Promise<ShardHistory> {
  const raw = (await ledger.query().where(`shard_id = ${sqlString(shardId)}`).toArray()) as Record<string, unknown>[];
  const rows = raw.map(toLedgerRow);
  let winner: LedgerRow | undefined;
  for (const row of rows) if (row.event === 'loaded' && (!winner || row.load_id > winner.load_id)) winner = row;
  return { started: rows.filter((r) => r.event === 'started').map((r) => r.load_id).sort(), winner };
}

const SEQ_DIGITS = 10;

export function nextLoadId(history: ShardHistory): string {
  const last = history.started.at(-1);
  const seq = (last ? Number(last.slice(0, SEQ_DIGITS)) : 0) + 1;
  return `${String(seq).padStart(SEQ_DIGITS, '0')}-${randomBytes(4).toString('hex')}`;
}

export type LedgerFacts = Pick<LedgerRow, 'shard_id' | 'fingerprint' | 'shard_uri'>;

/** Registers an attempt before it writes any row. */
export async function beginAttempt(store: VistaStore, ledger: lancedb.Table, facts: LedgerFacts, history: ShardHistory): Promise<string> {
  const loadId = nextLoadId(history);
  const row: LedgerRow = { ...facts, event: 'started', load_id: loadId, rows: 0, failed: 0, parts: 0, at: new Date() };
  await store.commit(TableName.loadLedger, 'ledger: begin attempt', () => ledger.add(ledgerTable(row)));
  return loadId;
}

/** The commit point of a load: from here on its rows are the shard's rows (unless a later load wins). */
export async function recordLoaded(
  store: VistaStore,
  ledger: lancedb.Table,
  facts: LedgerFacts,
  loadId: string,
  counts: Pick<LedgerRow, 'rows' | 'failed' | 'parts'>,
): Promise<void> {
  const row: LedgerRow = { ...facts, ...counts, event: 'loaded', load_id: loadId, at: new Date() };
  await store.commit(TableName.loadLedger, 'ledger: record load', () => ledger.add(ledgerTable(row)));
}
