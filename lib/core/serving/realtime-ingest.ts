/**
 * Real-time outcomes into LanceDB: inbox records (realtime-inbox.ts) are gathered into batches in
 * the worker's output format and loaded with the backfill's idempotent shard loader, so uploaded
 * images become searchable next to the catalog. Under `batchesUri`, per batch:
 *
 *   <batch>.sources.json   the inbox records it takes (written first: the batch's claim)
 *   <batch>/               part-00000.arrow, errors.jsonl, image-ids.json, summary.json (last)
 *   <batch>.done.json      written last, once loaded, superseded and the inbox records deleted
 *
 * Every step is idempotent and a crash anywhere is finished by the next run: a batch with a claim
 * and no done marker is completed (rebuilt if its summary is missing) before any new one starts.
 * A newer outcome of an image replaces what the store held for it (supersede.ts). Runs must not
 * overlap (the deployed function has a concurrency of one; docs/store.md, "Real-time rows").
 */
import { mapWithConcurrency } from '../io/concurrency';
import { exists, joinUri, listNames, readJson, removeFiles, writeJsonAtomic } from '../io/location';
import { type Logger, silentLogger } from '../log';
import { SUMMARY_FILE, makeShardOutput } from '../pipeline/shard-output';
import { loadShardResults } from '../store/loader';
import { type SupersedeResult, storeEmbeddingDim, supersedeOtherShards } from '../store/supersede';
import type { ImageErrorCode } from '../errors';
import type { EnrichedImage, ImageFailure, ImageFormat } from '../types';
import { INBOX_SUFFIX, type InboxRecord, imageIdOfInboxName, inboxRecordName } from './realtime-inbox';

export interface RealtimeIngestOptions {
  inboxUri: string;
  batchesUri: string;
  dbUri: string;
  /** Inbox records per batch, i.e. per load. @default 10_000 */
  maxRecordsPerBatch?: number;
  /**
   * Only records older than this are taken, so that every record stamped before the cut-off has
   * landed (writes in flight, clocks a little apart) and outcomes of an image apply in order.
   * @default 60
   */
  settleSeconds?: number;
  /** Time left to this run (a Lambda's): no new batch starts with less than `minBatchMs` left. */
  remainingMs?: () => number;
  /** @default 120_000 */
  minBatchMs?: number;
  logger?: Logger;
  /** Fault injection for tests: a throw here is a crash after the load, before supersede and cleanup. */
  hooks?: { afterLoad?: () => Promise<void> | void };
}

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
  /** Why records were left in the inbox, when they were (time, or nothing to size the store with yet). */
  leftInInbox?: 'time' | 'no-embedding-dimension-yet';
}

interface BatchClaim {
  batch_id: string;
  shard_id: string;
  sources: string[];
  created_at: string;
}

const CLAIM_SUFFIX = '.sources.json';
const DONE_SUFFIX = '.done.json';
const IDS_FILE = 'image-ids.json';
/** A record that cannot be read as one: kept as a failure (never blocks the inbox). */
export const INBOX_RECORD_INVALID = 'INBOX_RECORD_INVALID';

export const REALTIME_SHARD_PREFIX = 'realtime/';

export async function ingestRealtime(options: RealtimeIngestOptions): Promise<RealtimeIngestResult> {
  const logger = options.logger ?? silentLogger;
  const timeLeft = () => (options.remainingMs ? options.remainingMs() >= (options.minBatchMs ?? 120_000) : true);
  const batches: IngestedBatch[] = [];

  const names = await listNames(options.batchesUri);
  const done = new Set(names.filter((n) => n.endsWith(DONE_SUFFIX)).map((n) => n.slice(0, -DONE_SUFFIX.length)));
  const unfinished = names.filter((n) => n.endsWith(CLAIM_SUFFIX)).map((n) => n.slice(0, -CLAIM_SUFFIX.length)).filter((id) => !done.has(id));
  for (const batchId of unfinished) {
    const claim = await readJson<BatchClaim>(claimUri(options, batchId));
    const batch = await completeBatch(claim, options, logger, true);
    if (batch === 'waiting') return { batches, leftInInbox: 'no-embedding-dimension-yet' };
    batches.push(batch);
  }

  const limit = options.maxRecordsPerBatch ?? 10_000;
  for (;;) {
    if (!timeLeft()) return { batches, leftInInbox: 'time' };
    // Names start with their UTC stamp: everything below the cut-off name is old enough.
    const cutoff = inboxRecordName('', new Date(Date.now() - (options.settleSeconds ?? 60) * 1000)).slice(0, 18);
    const sources = (await listNames(options.inboxUri, limit)).filter((n) => n.endsWith(INBOX_SUFFIX) && n < cutoff);
    if (sources.length === 0) return { batches };
    const batchId = newBatchId();
    const claim: BatchClaim = { batch_id: batchId, shard_id: `${REALTIME_SHARD_PREFIX}${batchId}`, sources, created_at: new Date().toISOString() };
    await writeJsonAtomic(claimUri(options, batchId), claim);
    const batch = await completeBatch(claim, options, logger, false);
    if (batch === 'waiting') return { batches, leftInInbox: 'no-embedding-dimension-yet' };
    batches.push(batch);
  }
}

async function completeBatch(claim: BatchClaim, options: RealtimeIngestOptions, logger: Logger, resumed: boolean): Promise<IngestedBatch | 'waiting'> {
  const folder = joinUri(options.batchesUri, claim.batch_id);
  if (!(await exists(joinUri(folder, SUMMARY_FILE)))) {
    const built = await buildBatch(folder, claim, options, logger);
    if (built === 'waiting') {
      // Only failures, and no images table to take the embedding width from: the claim is
      // dropped and the records stay in the inbox until an enrichment succeeds.
      await removeFiles([claimUri(options, claim.batch_id)]);
      logger.info('realtime ingest waits: only failure records and no images table yet', { records: claim.sources.length });
      return 'waiting';
    }
  }
  const load = await loadShardResults({ dbUri: options.dbUri, shardResultsUri: folder, shardId: claim.shard_id });
  await options.hooks?.afterLoad?.();
  const imageIds = await readJson<string[]>(joinUri(folder, IDS_FILE));
  const superseded = await supersedeOtherShards(options.dbUri, claim.shard_id, imageIds);
  await removeFiles(claim.sources.map((name) => joinUri(options.inboxUri, name)));
  const batch: IngestedBatch = {
    batchId: claim.batch_id,
    shardId: claim.shard_id,
    records: claim.sources.length,
    rows: load.loadedRows,
    failed: load.failedRows,
    superseded,
    resumed,
  };
  await writeJsonAtomic(joinUri(options.batchesUri, `${claim.batch_id}${DONE_SUFFIX}`), { ...batch, finished_at: new Date().toISOString() });
  logger.info('realtime batch ingested', { ...batch });
  return batch;
}

async function buildBatch(folder: string, claim: BatchClaim, options: RealtimeIngestOptions, logger: Logger): Promise<'built' | 'waiting'> {
  const started = new Date();
  const read = await mapWithConcurrency(claim.sources, 16, (name) => readRecord(options.inboxUri, name));
  // Names sort by time: a later record of the same image replaces an earlier one.
  const latest = new Map<string, InboxRecord>();
  claim.sources.forEach((name, i) => {
    const record = read[i];
    if (record === 'missing') logger.warn('inbox record vanished before ingest', { name });
    else latest.set(imageIdOf(record), record);
  });

  // The store's width first: results of another width (a model swapped without a new store)
  // become failures below instead of a batch that could never load.
  const results = [...latest.values()].flatMap((r) => (r.kind === 'result' ? [r.result] : []));
  const dim = (await storeEmbeddingDim(options.dbUri)) ?? results.find((r) => Array.isArray(r.embedding))?.embedding?.length;
  if (dim === undefined) return 'waiting';

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
    rows.push({
      imageId: r.image_id,
      sourceUri: r.source_uri,
      hotelId: r.hotel_id,
      seoFilename: r.seo_filename,
      tags: r.tags,
      tagScores: r.tag_scores,
      embedding: Float32Array.from(r.embedding),
      width: r.width,
      height: r.height,
      format: r.format as ImageFormat,
      contentSha256: r.content_sha256,
      modelId: r.model_id,
      taxonomyId: r.taxonomy_id,
      processedAt: new Date(r.processed_at),
    });
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
  let value: unknown;
  try {
    value = await readJson(uri);
  } catch (err) {
    if (!(await exists(uri))) return 'missing';
    return invalidRecord(name, uri, `not JSON: ${(err as Error).message}`);
  }
  const record = value as Partial<InboxRecord> | null;
  if (record?.kind === 'result' && typeof record.result?.image_id === 'string') return record as InboxRecord;
  if (record?.kind === 'error' && typeof record.error?.image_id === 'string') return record as InboxRecord;
  return invalidRecord(name, uri, 'neither a result nor an error record');
}

function invalidRecord(name: string, uri: string, why: string): InboxRecord {
  const imageId = imageIdOfInboxName(name) ?? name;
  return { kind: 'error', error: { image_id: imageId, source_uri: uri, error_code: INBOX_RECORD_INVALID, message: `inbox record ${name}: ${why}`, at: new Date().toISOString() } };
}

function imageIdOf(record: InboxRecord): string {
  return record.kind === 'result' ? record.result.image_id : record.error.image_id;
}

function claimUri(options: RealtimeIngestOptions, batchId: string): string {
  return joinUri(options.batchesUri, `${batchId}${CLAIM_SUFFIX}`);
}

/** Sortable by creation time, unique: `<UTC stamp>-<8 hex>`. */
function newBatchId(): string {
  return inboxRecordName('', new Date()).slice(0, 27);
}
