/**
 * Real-time outcomes into LanceDB: inbox records (realtime-inbox.ts) are gathered into batches in
 * the worker's output format and loaded with the backfill's idempotent shard loader, so uploaded
 * images become searchable next to the catalog. Under `batchesUri`:
 *
 *   claims/<batch>.json   the inbox records the batch takes; written first, deleted last (done)
 *   <batch>/              part-00000.arrow, errors.jsonl, image-ids.json, summary.json (last);
 *                         removed once the batch is done
 *
 * Every step is idempotent and a crash anywhere is finished by the next run: every claim left is
 * completed (its batch rebuilt if its summary is missing) before a new one starts. A newer outcome
 * of an image replaces what older shards stored for it (supersede.ts). Nothing can block the inbox:
 * a record that is not a valid outcome is stored as an INBOX_RECORD_INVALID failure; but a record
 * that cannot be *read* (network, permissions) fails the run, to be retried, rather than be
 * mistaken for an invalid one. Runs should not overlap (the deployed function has a concurrency of
 * one); if they do, work is duplicated, never lost (docs/store.md, "Real-time rows").
 */
import type { ImageErrorCode } from '../errors';
import { mapWithConcurrency } from '../io/concurrency';
import { exists, joinUri, listNames, readJson, readText, removeFiles, writeJsonAtomic } from '../io/location';
import { type Logger, silentLogger } from '../log';
import { SUMMARY_FILE, makeShardOutput } from '../pipeline/shard-output';
import { unindexedVectorRows } from '../store/indexer';
import { type LoadShardOptions, loadShardResults } from '../store/loader';
import { readStoreManifest } from '../store/store-manifest';
import type { SupersedeResult } from '../store/supersede';
import { storeEmbeddingDim } from '../store/tables';
import type { EnrichedImage, ImageFailure } from '../types';
import { fromEnrichResult } from './protocol';
import { INBOX_SUFFIX, type InboxRecord, imageIdOfInboxName, inboxRecordSchema, inboxStamp, stampOfInboxName, stampedId } from './realtime-inbox';

export interface RealtimeIngestOptions {
  inboxUri: string;
  batchesUri: string;
  dbUri: string;
  /** Inbox records per batch, i.e. per load. @default 10_000 */
  maxRecordsPerBatch?: number;
  /**
   * Only records older than this are taken, so that every record stamped before the cut-off has
   * landed and outcomes of an image apply in order. A record is stamped just before its write,
   * which ends with the upload function's invocation: keep this above that function's timeout.
   * @default DEFAULT_SETTLE_SECONDS (the upload function's default timeout, 120 s, plus a minute)
   */
  settleSeconds?: number;
  /** Time left to this run (a Lambda's): no new batch starts with less than `minBatchMs` left. */
  remainingMs?: () => number;
  /** @default 120_000 */
  minBatchMs?: number;
  logger?: Logger;
  /** Waiting for, and holding, the store's writer lease (writer \`realtime\`). */
  lease?: LoadShardOptions['lease'];
  /** Fault injection for tests: a throw here is a crash at that point (nothing cleans up after it). */
  hooks?: {
    beforeLoad?: () => Promise<void> | void;
    afterLoad?: () => Promise<void> | void;
    /** Called after each step of a batch (IngestStep); a throw is a crash right after that step. */
    after?: (step: IngestStep) => Promise<void> | void;
  };
}

/**
 * The boundaries of a batch, in order: claim written; batch built; rows appended (not yet
 * recorded); older rows superseded (not yet recorded); load recorded in the ledger; inbox records
 * deleted; claim released (batch folder not yet removed).
 */
export type IngestStep = 'claim' | 'build' | 'load' | 'supersede' | 'loaded' | 'delete' | 'release';
export const INGEST_STEPS: readonly IngestStep[] = ['claim', 'build', 'load', 'supersede', 'loaded', 'delete', 'release'];
/** The writer the ingest takes the store's writer lease as. */
export const REALTIME_WRITER = 'realtime';

export interface IngestedBatch {
  batchId: string;
  shardId: string;
  /** Inbox records the batch took. */
  records: number;
  rows: number;
  failed: number;
  superseded: SupersedeResult;
  /** Finished by this run after an earlier run stopped part-way. */
  resumed: boolean;
}

export interface RealtimeIngestResult {
  batches: IngestedBatch[];
  /** Records were left in the inbox because the run's time was up. */
  leftInInbox?: 'time';
  /** Age of the oldest record still in the inbox at the end (0 when empty): how far search lags uploads. */
  oldestPendingSeconds: number;
  /** Rows vector search scans exactly at the end (not yet in the vector index): when an index run is due. */
  unindexedRows: number;
}

export const DEFAULT_SETTLE_SECONDS = 180;
/** A record that is not a valid outcome: kept as a failure (never blocks the inbox). */
export const INBOX_RECORD_INVALID = 'INBOX_RECORD_INVALID';
export const REALTIME_SHARD_PREFIX = 'realtime/';

interface BatchClaim {
  batch_id: string;
  shard_id: string;
  sources: string[];
  created_at: string;
}

const CLAIMS_FOLDER = 'claims';
const IDS_FILE = 'image-ids.json';
const READ_CONCURRENCY = 16;

export async function ingestRealtime(options: RealtimeIngestOptions): Promise<RealtimeIngestResult> {
  const logger = options.logger ?? silentLogger;
  const timeLeft = () => (options.remainingMs ? options.remainingMs() >= (options.minBatchMs ?? 120_000) : true);
  const batches: IngestedBatch[] = [];
  const claims = joinUri(options.batchesUri, CLAIMS_FOLDER);

  const end = async (leftInInbox?: 'time'): Promise<RealtimeIngestResult> => ({
    batches,
    ...(leftInInbox ? { leftInInbox } : {}),
    oldestPendingSeconds: await oldestPendingSeconds(options.inboxUri),
    unindexedRows: await unindexedVectorRows(options.dbUri),
  });

  for (const name of (await listNames(claims)).filter((n) => n.endsWith('.json'))) {
    if (!timeLeft()) return end('time');
    const batch = await completeBatch(await readJson<BatchClaim>(joinUri(claims, name)), options, logger, true);
    if (batch) batches.push(batch);
  }

  const limit = options.maxRecordsPerBatch ?? 10_000;
  for (;;) {
    if (!timeLeft()) return end('time');
    // Names start with their UTC stamp: everything below the cut-off stamp is old enough.
    const cutoff = inboxStamp(new Date(Date.now() - (options.settleSeconds ?? DEFAULT_SETTLE_SECONDS) * 1000));
    const sources = (await listNames(options.inboxUri, limit)).filter((n) => n.endsWith(INBOX_SUFFIX) && n < cutoff);
    if (sources.length === 0) return end();
    const batchId = stampedId();
    const claim: BatchClaim = { batch_id: batchId, shard_id: `${REALTIME_SHARD_PREFIX}${batchId}`, sources, created_at: new Date().toISOString() };
    await writeJsonAtomic(claimUri(options, batchId), claim);
    await options.hooks?.after?.('claim');
    const batch = await completeBatch(claim, options, logger, false);
    if (batch) batches.push(batch);
  }
}

async function completeBatch(claim: BatchClaim, options: RealtimeIngestOptions, logger: Logger, resumed: boolean): Promise<IngestedBatch | undefined> {
  const folder = joinUri(options.batchesUri, claim.batch_id);
  const summaryUri = joinUri(folder, SUMMARY_FILE);
  let built = await exists(summaryUri);
  if (built && (await modelChanged(summaryUri, options.dbUri))) {
    // Built before the store recorded its model, which has since been set by another model (or
    // width): as it is the batch could never load. Its records are all still in the inbox.
    logger.warn('realtime batch rebuilt: the store now holds another model or embedding width', { batch_id: claim.batch_id });
    built = false;
  }
  if (!built && (await buildBatch(folder, claim, options, logger)) === 'nothing-left') {
    // Every claimed record is gone and the batch was never built: a claim whose batch finished
    // and was cleaned up but not released. Loading an empty batch now would replace its rows.
    logger.warn('realtime claim without records or batch: released', { batch_id: claim.batch_id });
    await removeFiles([claimUri(options, claim.batch_id)]);
    return undefined;
  }
  if (!built) await options.hooks?.after?.('build');
  await options.hooks?.beforeLoad?.();
  const after = options.hooks?.after;
  // The loader supersedes older rows of the batch's images itself, before it records the load:
  // once the ledger has the batch, the batch has replaced them (nothing owed by a later run).
  const load = await loadShardResults({
    dbUri: options.dbUri,
    shardResultsUri: folder,
    shardId: claim.shard_id,
    writer: REALTIME_WRITER,
    orderedFamily: REALTIME_SHARD_PREFIX,
    // Never wait for a backfill's operation past this run's time: the next run catches up.
    lease: { ...(options.remainingMs ? { waitMs: Math.max(0, options.remainingMs() - (options.minBatchMs ?? 120_000)) } : {}), ...options.lease },
    ...(after ? { hooks: { crash: true, afterAppend: () => after('load'), afterSupersede: () => after('supersede') } } : {}),
  });
  await options.hooks?.afterLoad?.();
  await after?.('loaded');
  const superseded: SupersedeResult = load.superseded;
  await removeFiles(claim.sources.map((name) => joinUri(options.inboxUri, name)));
  await after?.('delete');
  // The commit point of "done": after it, nothing refers to the batch folder any more.
  await removeFiles([claimUri(options, claim.batch_id)]);
  await after?.('release');
  await removeFiles((await listNames(folder)).map((name) => joinUri(folder, name)));
  const batch: IngestedBatch = {
    batchId: claim.batch_id,
    shardId: claim.shard_id,
    records: claim.sources.length,
    rows: load.loadedRows,
    failed: load.failedRows,
    superseded,
    resumed,
  };
  logger.info('realtime batch ingested', { ...batch });
  return batch;
}

async function oldestPendingSeconds(inboxUri: string): Promise<number> {
  const [first] = (await listNames(inboxUri, 1)).filter((n) => n.endsWith(INBOX_SUFFIX));
  const at = first ? stampOfInboxName(first) : undefined;
  return at ? Math.max(0, Math.round((Date.now() - at.getTime()) / 1000)) : 0;
}

async function modelChanged(summaryUri: string, dbUri: string): Promise<boolean> {
  const { embedding_dim: built, model_id: model } = await readJson<{ embedding_dim: number; model_id: string }>(summaryUri);
  if (built === 0) return false;
  const manifest = await readStoreManifest(dbUri);
  if (manifest) return manifest.embedding_dim !== built || manifest.model_id !== model;
  const stored = await storeEmbeddingDim(dbUri);
  return stored !== undefined && stored !== built;
}

async function buildBatch(folder: string, claim: BatchClaim, options: RealtimeIngestOptions, logger: Logger): Promise<'built' | 'nothing-left'> {
  const started = new Date();
  const read = await mapWithConcurrency(claim.sources, READ_CONCURRENCY, (name) => readRecord(options.inboxUri, name));
  if (read.every((r) => r === 'missing')) return 'nothing-left';
  // Names sort by time: a later record of the same image replaces an earlier one.
  const latest = new Map<string, InboxRecord>();
  claim.sources.forEach((name, i) => {
    const record = read[i];
    if (record === 'missing') logger.warn('inbox record vanished before ingest', { name });
    else latest.set(imageIdOf(record), record);
  });

  // The store's width first: results of another width (a model swapped without a new store)
  // become failures below instead of a batch that could never load. With no images table and no
  // result, the batch holds failures only and needs no width.
  const results = [...latest.values()].flatMap((r) => (r.kind === 'result' ? [r.result] : []));
  const manifest = await readStoreManifest(options.dbUri);
  const dim = manifest?.embedding_dim ?? (await storeEmbeddingDim(options.dbUri)) ?? results[0]?.embedding?.length ?? 0;
  // Likewise the model: the store refuses a batch of another model's embeddings (store-manifest.ts).
  const model = manifest?.model_id ?? results[0]?.model_id;

  const rows: EnrichedImage[] = [];
  const failures: ImageFailure[] = [];
  for (const record of latest.values()) {
    if (record.kind === 'error') {
      failures.push({ imageId: record.error.image_id, sourceUri: record.error.source_uri, errorCode: record.error.error_code as ImageErrorCode, message: record.error.message });
      continue;
    }
    const r = record.result;
    if (r.embedding?.length !== dim) {
      const message = `result has ${r.embedding?.length ?? 'no'} embedding values, the store holds ${dim}`;
      failures.push({ imageId: r.image_id, sourceUri: r.source_uri, errorCode: INBOX_RECORD_INVALID as ImageErrorCode, message });
      continue;
    }
    if (r.model_id !== model) {
      const message = `result of model ${r.model_id}, the store holds ${model}`;
      failures.push({ imageId: r.image_id, sourceUri: r.source_uri, errorCode: INBOX_RECORD_INVALID as ImageErrorCode, message });
      continue;
    }
    rows.push(fromEnrichResult({ ...r, embedding: r.embedding }));
  }

  const output = makeShardOutput(folder, dim);
  const stamp = { part_size: latest.size, model_id: rows[0]?.modelId ?? 'none', taxonomy_id: rows[0]?.taxonomyId ?? 'none' };
  const marker = await output.writePart(0, 0, rows, failures, stamp);
  await writeJsonAtomic(joinUri(folder, IDS_FILE), [...latest.keys()]);
  const finished = new Date();
  await output.finish([marker], {
    shard: claimUri(options, claim.batch_id),
    model_id: stamp.model_id,
    taxonomy_id: stamp.taxonomy_id,
    embedding_dim: dim,
    started_at: started.toISOString(),
    finished_at: finished.toISOString(),
    resumed_parts: 0,
    timings_ms: { wall: finished.getTime() - started.getTime() },
    images_per_second: 0,
  });
  return 'built';
}

type ReadRecord = InboxRecord | 'missing';

async function readRecord(inboxUri: string, name: string): Promise<ReadRecord> {
  const uri = joinUri(inboxUri, name);
  let text: string;
  try {
    text = await readText(uri);
  } catch (err) {
    if (!(await exists(uri))) return 'missing';
    // Not the record's fault (network, throttling, permissions): the run fails and is retried.
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return invalidRecord(name, uri, `not JSON: ${(err as Error).message}`);
  }
  const parsed = inboxRecordSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return invalidRecord(name, uri, `not a result or error record (${issue.path.join('.') || 'record'}: ${issue.message})`);
  }
  return parsed.data;
}

function invalidRecord(name: string, uri: string, why: string): InboxRecord {
  const imageId = imageIdOfInboxName(name) ?? name;
  return { kind: 'error', error: { image_id: imageId, source_uri: uri, error_code: INBOX_RECORD_INVALID, message: `inbox record ${name}: ${why}`, at: new Date().toISOString() } };
}

function imageIdOf(record: InboxRecord): string {
  return record.kind === 'result' ? record.result.image_id : record.error.image_id;
}

function claimUri(options: RealtimeIngestOptions, batchId: string): string {
  return joinUri(options.batchesUri, CLAIMS_FOLDER, `${batchId}.json`);
}
