/**
 * The shard step: turns a manifest (one URI per line, or JSONL with `uri` and optional
 * `image_id, hotel_id, hotel_name, city`; optionally .gz; local or S3) into shard files of N
 * entries, each line normalized to JSONL with its image id fixed, so workers, loaders and
 * re-runs agree on identities. Duplicate URIs (first one wins) and blank or invalid lines are
 * left out and reported.
 *
 * Deterministic and idempotent: the same manifest and shard size give byte-identical shards, and
 * a run that was already sharded from that manifest is returned as is. A run cannot be re-sharded
 * from a different manifest: its results would no longer match its shards.
 *
 * Duplicates are found by image id, the store's key (derived from the URI when a line has none, so a
 * repeated URI is a repeated id). Limits: one pass holds a digest per distinct id (see makeSeenSet),
 * so one run is meant for up to ~10-20M images; the 500M catalog is backfilled as several runs over
 * disjoint manifest partitions (an image listed in two runs gets a row from each).
 */
import { SystemErrorCode, VistaError } from '../errors';
import { exists, joinUri, listNames, readJson, removeFiles, writeAtomic, writeJsonAtomic } from '../io/location';
import { isInvalidEntry, parseShardLine } from '../pipeline/shard-reader';
import type { ShardEntry } from '../types';
import { MAX_BATCH_ARRAY_SIZE, SHARD_MANIFEST_FILE } from './layout';
import { makeSeenSet, readManifestLines, scanManifest } from './manifest-lines';
import { shardFileName } from '../pipeline/batch-job';

export interface ShardManifestOptions {
  manifestUri: string;
  /** Folder or prefix receiving shard-NNNNN.jsonl and _manifest.json. */
  outPrefix: string;
  /** Entries per shard (grown when the manifest would need more than `maxShards`). */
  shardSize: number;
  /** @default 10000, the AWS Batch array limit */
  maxShards?: number;
  /** Examples kept of each kind of problem. @default 5 */
  exampleLimit?: number;
  /** Shard files written at once. @default 8 */
  writeConcurrency?: number;
}

export interface ShardManifestResult {
  manifestUri: string;
  manifestSha256: string;
  shardsUri: string;
  requestedShardSize: number;
  /** Requested size, or larger when needed to stay within maxShards. */
  shardSize: number;
  maxShards: number;
  shardCount: number;
  /** Entries written to shards. */
  entries: number;
  lines: number;
  blankLines: number;
  invalid: { count: number; examples: { line: number; reason: string; text: string }[] };
  /** Lines whose image id (given, or derived from the URI) was already seen. */
  duplicates: { count: number; examples: { line: number; uri: string; imageId: string }[] };
  createdAt: string;
  /** True when an earlier identical sharding of this run was found and kept. */
  reused: boolean;
}

export async function shardManifest(options: ShardManifestOptions): Promise<ShardManifestResult> {
  const maxShards = options.maxShards ?? MAX_BATCH_ARRAY_SIZE;
  const exampleLimit = options.exampleLimit ?? 5;
  if (!Number.isInteger(options.shardSize) || options.shardSize < 1) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `shardSize must be a positive integer, got ${options.shardSize}`);
  }
  const manifestFile = joinUri(options.outPrefix, SHARD_MANIFEST_FILE);

  const scan = await scanManifest(options.manifestUri);
  const shardSize = Math.max(options.shardSize, Math.ceil(scan.nonBlankLines / maxShards));
  const previous = await readPrevious(manifestFile);
  if (previous) {
    const same = previous.manifestSha256 === scan.sha256 && previous.requestedShardSize === options.shardSize && previous.maxShards === maxShards;
    if (same) return { ...previous, reused: true };
    throw new VistaError(
      SystemErrorCode.CONFIG_INVALID,
      `${options.outPrefix} was already sharded from a different manifest or shard size ` +
        `(sha256 ${previous.manifestSha256.slice(0, 12)}…, shard size ${previous.requestedShardSize}); start a new run id`,
    );
  }

  const writer = makeShardWriter(options.outPrefix, options.writeConcurrency ?? 8);
  const seen = makeSeenSet();
  const invalid: ShardManifestResult['invalid'] = { count: 0, examples: [] };
  const duplicates: ShardManifestResult['duplicates'] = { count: 0, examples: [] };
  let lines = 0;
  let blankLines = 0;
  let entries = 0;
  let chunk: string[] = [];

  for await (const { lineNumber, text } of readManifestLines(options.manifestUri)) {
    lines = lineNumber;
    if (text.trim() === '') {
      blankLines++;
      continue;
    }
    const parsed = parseShardLine(text, entries);
    if (isInvalidEntry(parsed)) {
      invalid.count++;
      if (invalid.examples.length < exampleLimit) invalid.examples.push({ line: lineNumber, reason: parsed.reason, text: parsed.line });
      continue;
    }
    if (!seen.add(parsed.imageId)) {
      duplicates.count++;
      if (duplicates.examples.length < exampleLimit) duplicates.examples.push({ line: lineNumber, uri: parsed.uri, imageId: parsed.imageId });
      continue;
    }
    chunk.push(toShardLine(parsed));
    entries++;
    if (chunk.length === shardSize) {
      await writer.write(chunk);
      chunk = [];
    }
  }
  if (chunk.length > 0) await writer.write(chunk);
  const shardCount = await writer.finish();

  if (entries === 0) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `manifest ${options.manifestUri} has no valid entries (${lines} lines)`);
  }
  await removeStaleShards(options.outPrefix, shardCount);

  const result: ShardManifestResult = {
    manifestUri: options.manifestUri,
    manifestSha256: scan.sha256,
    shardsUri: options.outPrefix,
    requestedShardSize: options.shardSize,
    shardSize,
    maxShards,
    shardCount,
    entries,
    lines,
    blankLines,
    invalid,
    duplicates,
    createdAt: new Date().toISOString(),
    reused: false,
  };
  const { reused: _reused, ...stored } = result;
  await writeJsonAtomic(manifestFile, stored);
  return result;
}

/** The normalized shard line: always JSONL, always with the image id. */
function toShardLine(entry: ShardEntry): string {
  return JSON.stringify({
    uri: entry.uri,
    image_id: entry.imageId,
    ...(entry.hotelId !== undefined ? { hotel_id: entry.hotelId } : {}),
    ...(entry.hotelName !== undefined ? { hotel_name: entry.hotelName } : {}),
    ...(entry.city !== undefined ? { city: entry.city } : {}),
  });
}

async function readPrevious(manifestFile: string): Promise<Omit<ShardManifestResult, 'reused'> | undefined> {
  if (!(await exists(manifestFile))) return undefined;
  return readJson<Omit<ShardManifestResult, 'reused'>>(manifestFile);
}

/** Writes shard files in order with a few uploads in flight; the first failure fails the step. */
function makeShardWriter(outPrefix: string, concurrency: number) {
  const inFlight = new Set<Promise<void>>();
  let next = 0;
  let failure: unknown;
  return {
    async write(lines: string[]): Promise<void> {
      if (failure) throw failure;
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      if (failure) throw failure;
      const uri = joinUri(outPrefix, shardFileName(next++));
      const upload: Promise<void> = writeAtomic(uri, `${lines.join('\n')}\n`, 'application/x-ndjson')
        .catch((err) => {
          failure ??= err;
        })
        .finally(() => inFlight.delete(upload));
      inFlight.add(upload);
    },
    async finish(): Promise<number> {
      await Promise.all(inFlight);
      if (failure) throw failure;
      return next;
    },
  };
}

/** Shard files past the count, left by an interrupted earlier attempt: workers would never read them, but people would. */
async function removeStaleShards(outPrefix: string, shardCount: number): Promise<void> {
  const stale = (await listNames(outPrefix)).filter((name) => {
    const match = /^shard-(\d+)\.jsonl$/.exec(name);
    return match !== null && Number(match[1]) >= shardCount;
  });
  if (stale.length > 0) await removeFiles(stale.map((name) => joinUri(outPrefix, name)));
}
