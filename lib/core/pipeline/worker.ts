/**
 * Builds a ready-to-run worker from one validated config: loads the model once, the taxonomy
 * and its label bank, and the stage factories. `processShard` can then be called for as many
 * shards as the process is given (the Batch container runs one; tests and the CLI may run more).
 */
import { existsSync } from 'node:fs';
import { makeDecoder } from '../decode';
import { makeDecodePool } from '../decode/decode-pool';
import type { Logger } from '../log';
import { generateClipModel } from '../model/generate';
import { loadClipModel } from '../model';
import { isThreadedClipModel, loadClipModelInThread } from '../model/model-thread';
import { joinUri, readJson } from '../io/location';
import { makeImageSource } from '../io/source';
import { getLabelBank, loadTaxonomy, makeTagger, taxonomyId } from '../tags';
import type { ClipModel } from '../types';
import { makeEnricher, type Enricher } from './enricher';
import { runShard, type ImageDecoder, type ImageFetcher, type ShardProgress } from './run-shard';
import { makeShardOutput, type PartMarker, type ShardSummary } from './shard-output';
import { DEFAULT_MODEL_DIR, type WorkerConfig } from './worker-config';

export interface Worker {
  readonly model: ClipModel;
  readonly enricher: Enricher;
  /** The fetch and decode stages, for callers that enrich single images (the inference server). */
  readonly source: ImageFetcher;
  readonly decoder: ImageDecoder;
  /** Runs a shard into `outUri`; returns the existing summary when the shard was already complete. */
  processShard(
    shardUri: string,
    outUri: string,
    hooks?: { onProgress?: (p: ShardProgress) => void; onPartWritten?: (m: PartMarker) => void },
  ): Promise<{ summary: ShardSummary; skipped: boolean }>;
  close(): Promise<void>;
}

export const RANDOM_WEIGHTS_WARNING =
  'USING A CLIP MODEL WITH RANDOM WEIGHTS: embeddings are deterministic but tags and similarities are MEANINGLESS. ' +
  'Export real weights (see README, "Real CLIP weights") and pass --model DIR|s3://…';

/** The tiny random model, generated on first use so a fresh clone works with no download. */
export async function ensureDefaultModel(logger: Logger): Promise<string> {
  if (!existsSync(`${DEFAULT_MODEL_DIR}/config.json`)) {
    logger.info('generating the tiny random-weight CLIP model', { dir: DEFAULT_MODEL_DIR });
    await generateClipModel({ outDir: DEFAULT_MODEL_DIR, size: 'tiny' });
  }
  return DEFAULT_MODEL_DIR;
}

export async function createWorker(config: WorkerConfig, logger: Logger): Promise<Worker> {
  const modelUri = config.model ?? (await ensureDefaultModel(logger));
  const load = config.modelThread ? loadClipModelInThread : loadClipModel;
  const model = await load(modelUri, {
    provider: config.provider,
    intraOpThreads: config.intraOpThreads,
    logger: (line: object) => logger.info('model', line as Record<string, unknown>),
  });
  try {
    return await assembleWorker(config, logger, modelUri, model);
  } catch (err) {
    // A model thread left running would keep the process alive after the error is reported.
    await model.close().catch(() => undefined);
    throw err;
  }
}

async function assembleWorker(config: WorkerConfig, logger: Logger, modelUri: string, model: ClipModel): Promise<Worker> {
  if (await isRandomWeights(modelUri)) logger.warn(RANDOM_WEIGHTS_WARNING, { model: model.id });

  const taxonomy = await loadTaxonomy(config.taxonomy);
  const bank = await getLabelBank(model, taxonomy, config.artifacts);
  // With a model thread, tagging and naming run there too (annotations.ts): the main thread only moves batches.
  const annotator = isThreadedClipModel(model) ? await model.annotatorFor(bank, taxonomy) : undefined;
  const enricher = makeEnricher({ model, tagger: makeTagger(bank, taxonomy, model.logitScale), taxonomyId: taxonomyId(taxonomy), annotator });
  const sourceConfig = {
    maxBytes: config.maxBytes,
    timeoutMs: config.fetchTimeoutMs,
    retries: config.fetchRetries,
    retryBaseDelayMs: config.fetchRetryBaseDelayMs,
    throttleRetries: config.fetchThrottleRetries,
    throttleBaseDelayMs: config.fetchThrottleBaseDelayMs,
    concurrency: config.concurrency,
  };
  const source = makeImageSource(sourceConfig);
  const decoderConfig = { maxBytes: config.maxBytes, maxPixels: config.maxPixels };
  // Slots for everything that can be decoded and not yet embedded: the batch at the model, up to
  // two queued, the one filling, and the decodes in flight (see makeBatcher), so decoding never
  // waits on a slot that only a later decode could free.
  const pool =
    config.decodeThreads > 0
      ? makeDecodePool(decoderConfig, model.preprocess, { threads: config.decodeThreads, slots: 4 * config.batchSize + config.concurrency, source: sourceConfig })
      : undefined;
  const decoder = pool ?? makeDecoder(decoderConfig, model.preprocess);
  logger.info('worker ready', {
    model: model.id,
    provider: model.provider,
    taxonomy: enricher.taxonomyId,
    batch_size: config.batchSize,
    decode_threads: pool?.threads ?? 0,
  });

  return {
    model,
    enricher,
    source,
    decoder,
    async processShard(shardUri, outUri, hooks = {}) {
      const output = makeShardOutput(outUri, model.embedDim);
      if (await output.isComplete()) return { summary: await output.readSummary(), skipped: true };
      const summary = await runShard(
        // With decode threads, they fetch too: the main thread only sends URIs and moves batches.
        { source, decoder: pool ? { decode: (bytes) => pool.decodeOwned(bytes), fetchAndDecode: (uri) => pool.fetchAndDecode(uri) } : decoder, enricher, output },
        {
          shardUri,
          partSize: config.partSize,
          batchSize: config.batchSize,
          concurrency: config.concurrency,
          endRetry: { pauseMs: config.endRetryPauseMs },
          ...hooks,
        },
      );
      return { summary, skipped: false };
    },
    async close() {
      await pool?.close();
      await model.close();
    },
  };
}

/**
 * Whether the model is one `vista model generate` wrote. (A static import: a dynamic import() takes
 * the ESM resolver under the CLI's tsx/cjs loader, failed, and the catch hid the warning.)
 */
export async function isRandomWeights(modelUri: string): Promise<boolean> {
  try {
    const config = await readJson<{ vista?: { generated?: boolean } }>(joinUri(modelUri, 'config.json'));
    return config.vista?.generated === true;
  } catch {
    return false;
  }
}
