/**
 * `npm run bench:worker`: where the worker's time goes, measured in one run so that ratios are
 * meaningful on a shared, noisy machine.
 *   1 decode+preprocess alone, all cores          (what bounds a GPU worker)
 *   2 ViT-B/32-sized model alone, best batch size  (what bounds a CPU worker)
 *   3 end to end, ViT-B/32-sized model             target ≥ 90% of 2
 *   4 end to end, tiny model                       target ≥ 85% of 1 (pipeline overhead ≈ 0)
 *   5 naive loop: fetch, decode, model, one image at a time (ViT-B/32)
 */
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeDecoder } from '../lib/core/decode';
import { makeImageSource } from '../lib/core/io/source';
import { silentLogger } from '../lib/core/log';
import { loadClipModel } from '../lib/core/model';
import { generateClipModel } from '../lib/core/model/generate';
import { createWorker } from '../lib/core/pipeline/worker';
import { parseWorkerConfig, DEFAULT_MODEL_DIR } from '../lib/core/pipeline/worker-config';
import { seoFilename } from '../lib/core/naming/seo';
import { getLabelBank, loadTaxonomy, makeTagger } from '../lib/core/tags';
import type { ClipModel, PreprocessSpec } from '../lib/core/types';
import { writePhotoLikeJpegs } from '../test/support/fixtures';

export interface WorkerBenchOptions {
  images: number;
  workDir: string;
  vitModelDir: string;
  tinyModelDir: string;
  batchSizes: number[];
  provider: 'auto' | 'cuda' | 'webgpu' | 'cpu';
  /** Also run 3 with the model on the main thread, to measure what the model thread buys. */
  compareModelThread?: boolean;
  log: (message: string) => void;
}

interface Measured {
  images: number;
  seconds: number;
  images_per_second: number;
}

async function readLines(file: string, count: number): Promise<string[]> {
  return (await fs.readFile(file, 'utf8')).split('\n').filter(Boolean).slice(0, count);
}

const measure = (images: number, ms: number): Measured => ({
  images,
  seconds: round(ms / 1000, 3),
  images_per_second: round((images / ms) * 1000, 1),
});
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

class PeakRss {
  peak = process.memoryUsage().rss;
  private timer = setInterval(() => {
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
  }, 50);
  stop(): number {
    clearInterval(this.timer);
    return Math.round(this.peak / 2 ** 20);
  }
}

export async function ensureModel(dir: string, size: 'tiny' | 'vit-b-32', log: (m: string) => void): Promise<void> {
  if (existsSync(path.join(dir, 'config.json'))) return;
  log(`generating ${size} model into ${dir}`);
  await generateClipModel({ outDir: dir, size });
}

async function decodeOnly(uris: string[], spec: PreprocessSpec, concurrency: number): Promise<Measured> {
  const source = makeImageSource({});
  const decoder = makeDecoder({}, spec);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < uris.length) {
        const uri = uris[next++];
        await decoder.decode(await source.fetch(uri));
      }
    }),
  );
  return measure(uris.length, performance.now() - t0);
}

async function modelOnly(model: ClipModel, batchSizes: number[], minImages: number) {
  const perImage = 3 * model.preprocess.cropSize ** 2;
  const results: Record<string, Measured> = {};
  for (const bs of batchSizes) {
    const pixels = new Float32Array(bs * perImage).map((_, i) => Math.sin(i) * 0.5);
    await model.embedImages(pixels, bs); // warm-up: first run allocates and plans
    const rounds = Math.max(2, Math.ceil(minImages / bs));
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) await model.embedImages(pixels, bs);
    results[bs] = measure(rounds * bs, performance.now() - t0);
  }
  const best = Object.entries(results).sort((a, b) => b[1].images_per_second - a[1].images_per_second)[0];
  return { by_batch_size: results, best_batch_size: Number(best[0]), best: best[1] };
}

async function endToEnd(shard: string, outDir: string, modelDir: string, batchSize: number, provider: WorkerBenchOptions['provider'], modelThread = true) {
  await fs.rm(outDir, { recursive: true, force: true });
  const worker = await createWorker(parseWorkerConfig({ model: modelDir, batchSize, provider, modelThread }), silentLogger);
  // Warm-up, as for (2): a new session's first runs allocate and plan, a cost a real shard of
  // thousands of images amortizes but a 256-image benchmark would not.
  const warmUpShard = `${outDir}-warm-up.txt`;
  await fs.writeFile(warmUpShard, (await readLines(shard, 2 * batchSize)).join('\n') + '\n');
  await worker.processShard(warmUpShard, `${outDir}-warm-up`);
  await fs.rm(`${outDir}-warm-up`, { recursive: true, force: true });
  const rss = new PeakRss();
  const t0 = performance.now();
  const { summary } = await worker.processShard(shard, outDir);
  const ms = performance.now() - t0;
  const peak = rss.stop();
  await worker.close();
  if (summary.failed > 0) throw new Error(`benchmark images failed: ${JSON.stringify(summary.failed_by_code)}`);
  return { ...measure(summary.input, ms), peak_rss_mib: peak, stage_busy_ms: summary.timings_ms };
}

async function naiveLoop(uris: string[], model: ClipModel) {
  const source = makeImageSource({});
  const decoder = makeDecoder({}, model.preprocess);
  const taxonomy = await loadTaxonomy();
  const tagger = makeTagger(await getLabelBank(model, taxonomy, path.join(os.tmpdir(), 'vista-bench-artifacts')), taxonomy, model.logitScale);
  const t0 = performance.now();
  for (const uri of uris) {
    const image = await decoder.decode(await source.fetch(uri));
    const [embedding] = await model.embedImages(image.pixels, 1);
    const { tags } = tagger.tag(embedding);
    seoFilename({ imageId: uri, format: image.format, tags });
  }
  return measure(uris.length, performance.now() - t0);
}

export async function runWorkerBench(o: WorkerBenchOptions) {
  const photosDir = path.join(o.workDir, `photos-${o.images}`);
  if (!existsSync(path.join(photosDir, '.done'))) {
    o.log(`writing ${o.images} photo-like 1–2 MP JPEGs into ${photosDir}`);
    await writePhotoLikeJpegs(photosDir, o.images, { megapixels: [1, 2] });
    await fs.writeFile(path.join(photosDir, '.done'), '');
  }
  const uris = (await fs.readdir(photosDir)).filter((n) => n.endsWith('.jpg')).sort().map((n) => path.join(photosDir, n));
  const shard = path.join(o.workDir, 'bench-shard.txt');
  await fs.writeFile(shard, uris.join('\n') + '\n');
  await ensureModel(o.vitModelDir, 'vit-b-32', o.log);
  await ensureModel(o.tinyModelDir, 'tiny', o.log);

  const defaults = parseWorkerConfig({});
  const vit = await loadClipModel(o.vitModelDir, { provider: o.provider });
  // Warm-up: page cache, sharp's and libvips' first-use costs, so the first measurement isn't penalized.
  await decodeOnly(uris.slice(0, 16), vit.preprocess, defaults.concurrency);
  for (const uri of uris) await fs.readFile(uri);
  o.log('1/5 decode + preprocess alone');
  const decode = await decodeOnly(uris, vit.preprocess, defaults.concurrency);
  o.log('2/5 ViT-B/32-sized model alone');
  const model = await modelOnly(vit, o.batchSizes, Math.min(128, o.images));
  o.log('5/5 naive loop (runs before 3 and 4 so all model runs share one loaded session)');
  const naive = await naiveLoop(uris.slice(0, Math.min(uris.length, 64)), vit);
  await vit.close();
  o.log('3/5 end to end, ViT-B/32-sized model');
  const e2eVit = await endToEnd(shard, path.join(o.workDir, 'out-vit'), o.vitModelDir, model.best_batch_size, o.provider);
  const e2eVitMainThread = o.compareModelThread
    ? await endToEnd(shard, path.join(o.workDir, 'out-vit-main'), o.vitModelDir, model.best_batch_size, o.provider, false)
    : undefined;
  o.log('4/5 end to end, tiny model');
  const e2eTiny = await endToEnd(shard, path.join(o.workDir, 'out-tiny'), o.tinyModelDir, 64, o.provider);

  o.log('memory: end to end, tiny model, on a shard 8× longer');
  const longShard = path.join(o.workDir, 'bench-shard-x8.jsonl');
  const longLines = Array.from({ length: uris.length * 8 }, (_, i) => JSON.stringify({ uri: uris[i % uris.length], image_id: `x8-${i}` }));
  await fs.writeFile(longShard, longLines.join('\n') + '\n');
  const e2eTinyLong = await endToEnd(longShard, path.join(o.workDir, 'out-tiny-x8'), o.tinyModelDir, 64, o.provider);

  const ratio = (a: Measured, b: Measured) => round(a.images_per_second / b.images_per_second, 3);
  return {
    machine: { cores: os.availableParallelism(), cpu: os.cpus()[0]?.model, provider: vit.provider, node: process.version, uv_threadpool_size: process.env.UV_THREADPOOL_SIZE ?? '4 (default)' },
    images: o.images,
    decode_preprocess: decode,
    model_vit_b_32: model,
    end_to_end_vit_b_32: e2eVit,
    ...(e2eVitMainThread ? { end_to_end_vit_b_32_model_on_main_thread: e2eVitMainThread } : {}),
    end_to_end_tiny: e2eTiny,
    naive_one_at_a_time_vit_b_32: naive,
    /** Peak RSS must not grow with the shard: same pipeline, 8× the entries. */
    memory_bound: {
      entries: [o.images, o.images * 8],
      peak_rss_mib: [e2eTiny.peak_rss_mib, e2eTinyLong.peak_rss_mib],
      images_per_second: [e2eTiny.images_per_second, e2eTinyLong.images_per_second],
    },
    ratios: {
      e2e_vit_over_model: ratio(e2eVit, model.best),
      e2e_tiny_over_decode: ratio(e2eTiny, decode),
      e2e_vit_over_naive: ratio(e2eVit, naive),
    },
    targets: { e2e_vit_over_model: 0.9, e2e_tiny_over_decode: 0.85 },
  };
}

export const BENCH_DEFAULTS = { vitModelDir: path.resolve('.vista/models/vit-b-32'), tinyModelDir: DEFAULT_MODEL_DIR };
