/**
 * Builds the store's indexes once loading is over: compaction first, then a cosine vector index
 * on the embeddings, BTREEs on image_id, hotel_id and shard_id, a LABEL_LIST on tags, and FTS indexes
 * on tags, hotel_name and city for hybrid search (full-text.ts).
 *
 * It must never run while a loader writes: compaction rewrites fragments a concurrent delete may
 * be reading (a commit conflict at best). The backfill state machine orders it after the load
 * Map, and the store's writer lease (writer-lease.ts) keeps any other writer out while it runs.
 *
 * Re-running is cheap and safe: optimize folds new rows into existing indexes; a scalar index that
 * exists is kept; the vector index is retrained only when the table outgrew it (vector-index.ts).
 */
import * as lancedb from '@lancedb/lancedb';
import { SystemErrorCode, VistaError } from '../errors';
import { ResultColumn } from '../pipeline/schema';
import { TableName, type VistaStore, openStore } from './connect';
import { buildFullTextIndexes } from './full-text';
import { StoreColumn, storedEmbeddingDim } from './tables';
import { type WriterLeaseOptions, withWriterLease } from './writer-lease';
import { type VectorIndexPlan, type VectorIndexSettings, needsRetrain, planVectorIndex, toLanceIndex } from './vector-index';

export interface BuildIndexesOptions {
  dbUri: string;
  /** Below this many rows a flat search is exact and fast enough: no vector index. @default 100_000 */
  minRowsForVectorIndex?: number;
  vectorIndex?: VectorIndexSettings;
  /** Rebuild every index even when an existing one would do. */
  force?: boolean;
  log?: (message: string) => void;
  /** The writer taking the store's writer lease for the build (a backfill's run id). @default 'indexer' */
  writer?: string;
  lease?: Pick<WriterLeaseOptions, 'waitMs' | 'ttlMs' | 'pollMs' | 'logger'>;
}

export type IndexAction = 'created' | 'replaced' | 'kept' | 'skipped';

export interface IndexOutcome {
  table: string;
  column: string;
  type: string;
  action: IndexAction;
  reason?: string;
  ms: number;
  plan?: VectorIndexPlan;
}

export interface IndexReport {
  dbUri: string;
  rows: number;
  errorRows: number;
  optimize: { table: string; ms: number; fragmentsRemoved: number; fragmentsAdded: number }[];
  indexes: IndexOutcome[];
  totalMs: number;
}

const PLAN_METADATA_KEY = 'vista.vector_index';

const SCALAR_INDEXES: { table: TableName; column: string; type: 'BTREE' | 'LABEL_LIST' }[] = [
  { table: TableName.images, column: ResultColumn.imageId, type: 'BTREE' },
  { table: TableName.images, column: ResultColumn.hotelId, type: 'BTREE' },
  { table: TableName.images, column: StoreColumn.shardId, type: 'BTREE' },
  { table: TableName.images, column: ResultColumn.tags, type: 'LABEL_LIST' },
  { table: TableName.imageErrors, column: ResultColumn.imageId, type: 'BTREE' },
];

export async function buildIndexes(options: BuildIndexesOptions): Promise<IndexReport> {
  // Compaction must not run beside a loader: the writer lease keeps every other writer out.
  const lease = { ...options.lease, writer: options.writer ?? 'indexer', operation: 'build indexes' };
  return withWriterLease(options.dbUri, lease, () => buildIndexesHoldingLease(options));
}

async function buildIndexesHoldingLease(options: BuildIndexesOptions): Promise<IndexReport> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const store = await openStore(options.dbUri, { readConsistencySeconds: 0 });
  try {
    const images = await store.table(TableName.images);
    if (!images) throw new VistaError(SystemErrorCode.STORE_FAILED, `no ${TableName.images} table under ${store.uri}: load some shards first`);
    const report: IndexReport = { dbUri: store.uri, rows: 0, errorRows: 0, optimize: [], indexes: [], totalMs: 0 };

    const tables = new Map<TableName, lancedb.Table>();
    for (const name of Object.values(TableName)) {
      const table = await store.table(name);
      if (!table) continue;
      tables.set(name, table);
      const t0 = Date.now();
      log(`optimize ${name}`);
      const stats = await store.commit(name, `optimize ${name}`, () => table.optimize());
      report.optimize.push({ table: name, ms: Date.now() - t0, fragmentsRemoved: stats.compaction.fragmentsRemoved, fragmentsAdded: stats.compaction.fragmentsAdded });
    }
    report.rows = await images.countRows();
    report.errorRows = (await tables.get(TableName.imageErrors)?.countRows()) ?? 0;

    report.indexes.push(await buildVectorIndex(store, images, report.rows, options, log));
    for (const spec of SCALAR_INDEXES) {
      const table = tables.get(spec.table);
      if (table) report.indexes.push(await buildScalarIndex(store, spec.table, table, spec.column, spec.type, options.force ?? false, log));
    }
    report.indexes.push(...(await buildFullTextIndexes(store, images, options.force ?? false, log)));
    report.totalMs = Date.now() - started;
    return report;
  } finally {
    store.close();
  }
}

async function existingIndex(table: lancedb.Table, column: string): Promise<lancedb.IndexConfig | undefined> {
  return (await table.listIndices()).find((i) => i.columns.length === 1 && i.columns[0] === column);
}

async function buildScalarIndex(
  store: VistaStore,
  name: TableName,
  table: lancedb.Table,
  column: string,
  type: 'BTREE' | 'LABEL_LIST',
  force: boolean,
  log: (m: string) => void,
): Promise<IndexOutcome> {
  const t0 = Date.now();
  const existing = await existingIndex(table, column);
  const base = { table: table.name, column, type };
  if (existing && !force) return { ...base, action: 'kept', reason: 'exists; optimize added new rows to it', ms: 0 };
  log(`${type} index on ${table.name}.${column}`);
  const config = type === 'BTREE' ? lancedb.Index.btree() : lancedb.Index.labelList();
  await store.commit(name, `index ${name}.${column}`, () => table.createIndex(column, { config, replace: true }));
  return { ...base, action: existing ? 'replaced' : 'created', ms: Date.now() - t0 };
}

async function buildVectorIndex(
  store: VistaStore,
  images: lancedb.Table,
  rows: number,
  options: BuildIndexesOptions,
  log: (m: string) => void,
): Promise<IndexOutcome> {
  const column = ResultColumn.embedding;
  const minRows = options.minRowsForVectorIndex ?? 100_000;
  const dim = await storedEmbeddingDim(images);
  const wanted = planVectorIndex(rows, dim, options.vectorIndex);
  const existing = await existingIndex(images, column);
  const base = { table: images.name, column, type: wanted.type };
  if (!existing && rows < minRows) {
    return { ...base, action: 'skipped', reason: `${rows} rows < ${minRows}: flat search is exact and fast`, ms: 0 };
  }
  const previous = await readPlan(images);
  if (existing && !options.force && !needsRetrain(previous, wanted)) {
    return { ...base, type: previous!.type, action: 'kept', reason: `trained on ${previous!.rows} rows; optimize indexed the rest`, ms: 0, plan: previous };
  }
  log(`${wanted.type} index on ${images.name}.${column}: ${wanted.numPartitions} partitions over ${rows} rows`);
  const t0 = Date.now();
  await store.commit(TableName.images, `vector index on ${column}`, () => images.createIndex(column, { config: toLanceIndex(wanted), replace: true }));
  await store.commit(TableName.images, 'record the vector index plan', () =>
    images.updateFieldMetadata([{ path: column, metadata: { [PLAN_METADATA_KEY]: JSON.stringify(wanted) } }]),
  );
  return { ...base, action: existing ? 'replaced' : 'created', ms: Date.now() - t0, plan: wanted };
}

/** The plan the current vector index was built with (kept in the embedding field's metadata). */
export async function readPlan(images: lancedb.Table): Promise<VectorIndexPlan | undefined> {
  const field = (await images.schema()).fields.find((f) => f.name === ResultColumn.embedding);
  const raw = field?.metadata.get(PLAN_METADATA_KEY);
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as VectorIndexPlan;
  } catch {
    return undefined;
  }
}

/**
 * Rows of the images table that vector search scans exactly, not through the vector index: rows
 * added since the last index build (or every row, while there is no vector index). What tells an
 * operator that an index run is due. 0 when there is no images table.
 */
export async function unindexedVectorRows(dbUri: string): Promise<number> {
  const store = await openStore(dbUri, { readConsistencySeconds: 0 });
  try {
    const images = await store.table(TableName.images);
    if (!images) return 0;
    const index = await existingIndex(images, ResultColumn.embedding);
    const stats = index ? await images.indexStats(index.name) : undefined;
    return stats ? stats.numUnindexedRows : await images.countRows();
  } finally {
    store.close();
  }
}
