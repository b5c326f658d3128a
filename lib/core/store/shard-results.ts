/**
 * Reads one shard's worker output (layout: lib/core/pipeline/shard-output.ts) for loading: only a
 * complete shard (summary.json present) is read, parts one at a time so memory stays bounded.
 */
import { createHash } from 'node:crypto';
import { type Table, tableFromIPC } from 'apache-arrow';
import { SystemErrorCode, VistaError } from '../errors';
import { readLines } from '../io/lines';
import { exists, joinUri, openReadStream, readBytes } from '../io/location';
import { CATALOG_COLUMNS_ADDED_LATER, ResultColumn } from '../pipeline/schema';
import { ERRORS_FILE, SUMMARY_FILE, type FailureRecord, type ShardSummary } from '../pipeline/shard-output';

/** The worker has not finished this shard: loading it now would load part of it. Retry later. */
export class ShardIncompleteError extends VistaError {
  constructor(shardResultsUri: string) {
    super(SystemErrorCode.OUTPUT_INVALID, `shard incomplete: no ${SUMMARY_FILE} under ${shardResultsUri}`, {
      details: { reason: 'SHARD_INCOMPLETE', shardResultsUri },
    });
    this.name = 'ShardIncompleteError';
  }
}

export interface CompleteShard {
  uri: string;
  summary: ShardSummary;
  /** SHA-256 of summary.json: identifies this output of the worker (a re-run writes another). */
  fingerprint: string;
}

export async function readCompleteShard(shardResultsUri: string): Promise<CompleteShard> {
  const summaryUri = joinUri(shardResultsUri, SUMMARY_FILE);
  if (!(await exists(summaryUri))) throw new ShardIncompleteError(shardResultsUri);
  const bytes = await readBytes(summaryUri);
  let summary: ShardSummary;
  try {
    summary = JSON.parse(bytes.toString('utf8')) as ShardSummary;
  } catch (err) {
    throw new VistaError(SystemErrorCode.OUTPUT_INVALID, `${summaryUri} is not JSON`, { cause: err });
  }
  if (!Array.isArray(summary.parts) || !Number.isInteger(summary.embedding_dim)) {
    throw new VistaError(SystemErrorCode.OUTPUT_INVALID, `${summaryUri} lacks parts or embedding_dim`);
  }
  return { uri: shardResultsUri, summary, fingerprint: createHash('sha256').update(bytes).digest('hex') };
}

/** Every result column but those added later, which parts written before them lack. */
const REQUIRED = Object.values(ResultColumn).filter((c) => !(CATALOG_COLUMNS_ADDED_LATER as readonly string[]).includes(c));

/** One part file as an Arrow table, checked against the summary's row count and embedding width. */
export async function readPart(shard: CompleteShard, part: { name: string; rows: number }): Promise<Table> {
  const uri = joinUri(shard.uri, part.name);
  let table: Table;
  try {
    table = tableFromIPC(await readBytes(uri));
  } catch (err) {
    throw new VistaError(SystemErrorCode.OUTPUT_INVALID, `cannot read ${uri}: ${(err as Error).message}`, { cause: err });
  }
  const names = new Set(table.schema.fields.map((f) => f.name));
  const missing = REQUIRED.filter((c) => !names.has(c));
  if (missing.length) throw new VistaError(SystemErrorCode.OUTPUT_INVALID, `${uri} lacks columns ${missing.join(', ')}`);
  const dim = (table.schema.fields.find((f) => f.name === ResultColumn.embedding)!.type as { listSize?: number }).listSize;
  if (dim !== shard.summary.embedding_dim) {
    throw new VistaError(SystemErrorCode.OUTPUT_INVALID, `${uri}: embedding width ${dim}, summary says ${shard.summary.embedding_dim}`);
  }
  if (table.numRows !== part.rows) {
    throw new VistaError(SystemErrorCode.OUTPUT_INVALID, `${uri}: ${table.numRows} rows, summary says ${part.rows}`);
  }
  return table;
}

/**
 * The shard's failure records in chunks of `chunkSize`, streamed: a shard of a million images
 * with a bad source can have hundreds of thousands. Checks the count against the summary.
 */
export async function* readFailures(shard: CompleteShard, chunkSize: number): AsyncGenerator<FailureRecord[]> {
  const uri = joinUri(shard.uri, ERRORS_FILE);
  if (!(await exists(uri))) {
    if (shard.summary.failed > 0) throw new VistaError(SystemErrorCode.OUTPUT_INVALID, `${uri} missing but ${shard.summary.failed} images failed`);
    return;
  }
  let lineNumber = 0;
  let count = 0;
  let chunk: FailureRecord[] = [];
  for await (const line of readLines(await openReadStream(uri))) {
    lineNumber++;
    if (line.trim() === '') continue;
    try {
      chunk.push(JSON.parse(line) as FailureRecord);
    } catch (err) {
      throw new VistaError(SystemErrorCode.OUTPUT_INVALID, `${uri} line ${lineNumber} is not JSON`, { cause: err });
    }
    count++;
    if (chunk.length >= chunkSize) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
  if (count !== shard.summary.failed) {
    throw new VistaError(SystemErrorCode.OUTPUT_INVALID, `${uri} has ${count} records, summary says ${shard.summary.failed} images failed`);
  }
}
