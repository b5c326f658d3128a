/**
 * The worker's data flow for one shard, wired in one place:
 *   reader → source (fetch) → decoder → batcher → enricher (model → tagger / namer) → part writer
 * Fetch+decode run `concurrency` entries at a time (sharp decodes on libuv's thread pool, off
 * the event loop) while the model works on the previous batch. Every entry ends as a row or a
 * failure record; parts already finished by an earlier run are skipped.
 */
import { ImageErrorCode, SystemErrorCode, VistaError, toVistaError } from '../errors';
import { Semaphore } from '../io/concurrency';
import { isTransientFailure } from '../io/retry';
import type { DecodedImage, ShardEntry } from '../types';
import { makeBatcher } from './batcher';
import type { DecodedEntry, Enricher } from './enricher';
import { PartTracker } from './part-tracker';
import { isInvalidEntry, readShard } from './shard-reader';
import type { PartMarker, PartStamp, ShardOutput, ShardSummary } from './shard-output';

export interface ImageFetcher {
  fetch(uri: string): Promise<Buffer>;
}

export interface ImageDecoder {
  decode(bytes: Buffer): Promise<DecodedImage>;
  /**
   * Fetch and decode in one step, off the main thread (a decode pool): used instead of
   * `source.fetch` + `decode` when present. Throws the fetch's or the decode's typed error.
   */
  fetchAndDecode?(uri: string): Promise<DecodedImage>;
}

export interface ShardRunDeps {
  source: ImageFetcher;
  decoder: ImageDecoder;
  enricher: Enricher;
  output: ShardOutput;
}

export interface ShardRunOptions {
  shardUri: string;
  /** Entries per part file: the unit of resume. */
  partSize: number;
  /** Images per model call. */
  batchSize: number;
  /** Entries fetched and decoded at once. */
  concurrency: number;
  onProgress?: (progress: ShardProgress) => void;
  onPartWritten?: (marker: PartMarker) => void;
  /**
   * Images whose fetch failed for a transient reason (5xx, throttling, timeouts, dropped
   * connections) after all their retries get one more try at the end of the shard, after this
   * pause. Absent: failures are final at once.
   */
  endRetry?: { pauseMs: number; /** Images held for the end, at most; later ones fail at once. @default 10000 */ maxImages?: number };
}

export interface ShardProgress {
  /** Entries accounted for by this run (rows + failures), not counting resumed parts. */
  processed: number;
  succeeded: number;
  failed: number;
  /** Entries skipped because their part was finished by an earlier run. */
  resumed: number;
}

/** Busy time per stage, summed over concurrent operations. */
export interface StageTimings {
  fetch: number;
  decode: number;
  model: number;
}

export async function runShard(deps: ShardRunDeps, options: ShardRunOptions): Promise<ShardSummary> {
  const { source, decoder, enricher, output } = deps;
  const startedAt = new Date();
  const previous = await output.completedParts();
  const stamp = resumeStamp(previous, { part_size: options.partSize, model_id: enricher.modelId, taxonomy_id: enricher.taxonomyId }, output.uri);
  const partSize = stamp.part_size;
  const progress: ShardProgress = { processed: 0, succeeded: 0, failed: 0, resumed: 0 };
  const timings: StageTimings = { fetch: 0, decode: 0, model: 0 };
  const report = () => options.onProgress?.({ ...progress });

  const tracker = new PartTracker(output, stamp, options.onPartWritten);
  // Held back from their parts until the end-of-shard retry settles them.
  const deferred: { entry: ShardEntry; part: number }[] = [];
  const endRetry = { retried: 0, recovered: 0 };
  const partOf = new Map<DecodedEntry, number>();

  const fail = (part: number, entry: Pick<ShardEntry, 'imageId' | 'uri'>, code: ImageErrorCode, message: string) => {
    progress.processed++;
    progress.failed++;
    tracker.addFailure(part, { imageId: entry.imageId, sourceUri: entry.uri, errorCode: code, message });
    report();
  };

  const batcher = makeBatcher<DecodedEntry>({ size: options.batchSize }, async (batch) => {
    const t0 = performance.now();
    const outcomes = await enricher.enrich(batch);
    timings.model += performance.now() - t0;
    outcomes.forEach((outcome, i) => {
      const part = partOf.get(batch[i])!;
      partOf.delete(batch[i]);
      if (outcome.ok) {
        progress.processed++;
        progress.succeeded++;
        tracker.addRow(part, outcome.row);
        report();
      } else {
        fail(part, batch[i].entry, outcome.failure.errorCode, outcome.failure.message);
      }
    });
  });

  // A failure of the run itself (the model is gone): stops reading, and no more parts are written.
  let fatal: unknown;

  const fetchAndDecode = async (entry: ShardEntry, part: number, lastTry = false) => {
    let stage: 'fetch' | 'decode' | 'batch' = 'fetch';
    try {
      const t0 = performance.now();
      if (decoder.fetchAndDecode) {
        let image: DecodedEntry['image'];
        try {
          image = await decoder.fetchAndDecode(entry.uri);
        } catch (err) {
          // The pool says which of its two steps failed.
          stage = err instanceof VistaError && err.details?.stage === 'fetch' ? 'fetch' : 'decode';
          if (stage === 'decode' && lastTry) endRetry.recovered++;
          throw err;
        }
        if (lastTry) endRetry.recovered++;
        const decoded: DecodedEntry = { entry, image };
        timings.decode += performance.now() - t0;
        partOf.set(decoded, part);
        stage = 'batch';
        await batcher.push(decoded);
        return;
      }
      const bytes = await source.fetch(entry.uri);
      if (lastTry) endRetry.recovered++;
      const t1 = performance.now();
      timings.fetch += t1 - t0;
      stage = 'decode';
      const image = await decoder.decode(bytes);
      timings.decode += performance.now() - t1;
      const decoded: DecodedEntry = { entry, image };
      partOf.set(decoded, part);
      stage = 'batch';
      await batcher.push(decoded);
    } catch (err) {
      if (stage === 'batch') {
        fatal ??= err;
        return;
      }
      if (stage === 'fetch' && !lastTry && options.endRetry && deferred.length < (options.endRetry.maxImages ?? 10_000) && isTransientFailure(err)) {
        deferred.push({ entry, part });
        return;
      }
      const fallback = stage === 'fetch' ? ImageErrorCode.FETCH_FAILED : ImageErrorCode.CORRUPT_IMAGE;
      const e = toVistaError(err, fallback);
      fail(part, entry, e.code in ImageErrorCode ? (e.code as ImageErrorCode) : fallback, e.message);
    }
  };

  const slots = new Semaphore(options.concurrency);
  const inflight = new Set<Promise<void>>();
  let currentPart = -1;
  try {
    let stoppedEarly = false;
    for await (const entry of readShard(options.shardUri)) {
      if (fatal !== undefined || tracker.hasWriteError) {
        // The current part is missing entries: it must not be sealed and written.
        stoppedEarly = true;
        break;
      }
      const part = Math.floor(entry.index / partSize);
      if (previous.has(part)) {
        progress.resumed++;
        continue;
      }
      if (part !== currentPart) {
        tracker.seal(currentPart);
        currentPart = part;
      }
      tracker.addInput(part, entry.index);
      if (isInvalidEntry(entry)) {
        fail(part, { imageId: `invalid-line-${entry.index}`, uri: entry.line }, ImageErrorCode.INVALID_ENTRY, entry.reason);
        continue;
      }
      await slots.acquire();
      const task = fetchAndDecode(entry, part).finally(() => {
        slots.release();
        inflight.delete(task);
      });
      inflight.add(task);
    }
    await Promise.all(inflight);
    if (deferred.length > 0 && fatal === undefined && !tracker.hasWriteError) {
      await new Promise((resolve) => setTimeout(resolve, options.endRetry!.pauseMs));
      for (const { entry, part } of deferred.splice(0)) {
        endRetry.retried++;
        await slots.acquire();
        const task = fetchAndDecode(entry, part, true).finally(() => {
          slots.release();
          inflight.delete(task);
        });
        inflight.add(task);
      }
      await Promise.all(inflight);
    }
    await batcher.flush();
    if (fatal !== undefined) throw fatal;
    if (stoppedEarly) await tracker.drain(); // throws the write error
  } catch (err) {
    // Settle everything in flight before the caller closes the model, and write no part whose
    // images were cut short: a resumed run redoes them.
    tracker.abort();
    await Promise.allSettled(inflight);
    await batcher.flush().catch(() => undefined);
    await tracker.settle();
    throw err;
  }
  tracker.seal(currentPart);
  await tracker.drain();

  const finishedAt = new Date();
  const wallMs = finishedAt.getTime() - startedAt.getTime();
  return output.finish([...previous.values(), ...tracker.written], {
    shard: options.shardUri,
    model_id: enricher.modelId,
    taxonomy_id: enricher.taxonomyId,
    embedding_dim: enricher.embedDim,
    started_at: startedAt.toISOString(),
    finished_at: finishedAt.toISOString(),
    resumed_parts: previous.size,
    ...(options.endRetry ? { end_retry: endRetry } : {}),
    timings_ms: {
      wall: Math.round(wallMs),
      fetch_busy: Math.round(timings.fetch),
      decode_busy: Math.round(timings.decode),
      model_busy: Math.round(timings.model),
    },
    images_per_second: wallMs > 0 ? Math.round((progress.processed / wallMs) * 1000 * 10) / 10 : 0,
  });
}

/**
 * A resumed shard keeps the part size its earlier run used (parts are index ranges: another size
 * would skip or redo entries), and refuses to mix parts made by another model or taxonomy.
 */
function resumeStamp(previous: Map<number, PartMarker>, wanted: PartStamp, outUri: string): PartStamp {
  const first = previous.values().next().value as PartMarker | undefined;
  if (!first) return wanted;
  for (const m of previous.values()) {
    if (m.part_size !== first.part_size || m.model_id !== first.model_id || m.taxonomy_id !== first.taxonomy_id) {
      throw new VistaError(SystemErrorCode.OUTPUT_INVALID, `${outUri} holds parts made with different settings (part ${m.part}); clear it or use another --out`);
    }
  }
  if (first.model_id !== wanted.model_id || first.taxonomy_id !== wanted.taxonomy_id) {
    throw new VistaError(
      SystemErrorCode.OUTPUT_INVALID,
      `${outUri} was started with model ${first.model_id} and taxonomy ${first.taxonomy_id}, not ${wanted.model_id} / ${wanted.taxonomy_id}: ` +
        'finishing it would mix embeddings of two models; clear it or use another --out',
    );
  }
  return { ...wanted, part_size: first.part_size };
}
