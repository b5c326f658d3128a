/**
 * The real-time path under load: `vista serve`'s HTTP server with the ViT-B/32-sized model,
 * driven by C concurrent clients posting 1–2 MP JPEGs (closed loop). Measures latency of a lone
 * request, then throughput and latency under load with micro-batching on and off, in one run so
 * the ratio is fair on a noisy machine.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { silentLogger } from '../lib/core/log';
import { createWorker } from '../lib/core/pipeline/worker';
import { parseWorkerConfig } from '../lib/core/pipeline/worker-config';
import { makeEnrichService } from '../lib/core/serving/enrich-service';
import { startInferenceServer } from '../lib/core/serving/http-server';
import { writePhotoLikeJpegs } from '../test/support/fixtures';
import { median, summarize } from './windows';
import { ensureModel } from './worker';

export interface ServeBenchOptions {
  requests: number;
  clients: number;
  maxBatch: number;
  maxWaitMs: number;
  photos: number;
  workDir: string;
  modelDir: string;
  provider: 'auto' | 'cuda' | 'webgpu' | 'cpu';
  /** Each phase runs until at least this many seconds (and `requests` requests) have passed. */
  seconds: number;
  /** Windows per phase, the three phases alternating. */
  repeats: number;
  log: (message: string) => void;
}

interface LoadResult {
  clients: number;
  requests: number;
  requests_per_second: number;
  p50_ms: number;
  p99_ms: number;
  model_batches: number;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

export async function runServeBench(o: ServeBenchOptions) {
  const photosDir = path.join(o.workDir, 'photos');
  const existing = await fs.readdir(photosDir).catch(() => [] as string[]);
  if (existing.length < o.photos) {
    o.log(`writing ${o.photos} photo-like JPEGs into ${photosDir}`);
    await writePhotoLikeJpegs(photosDir, o.photos, { megapixels: [1, 2] });
  }
  const photos = await Promise.all((await fs.readdir(photosDir)).filter((n) => n.endsWith('.jpg')).slice(0, o.photos).map((n) => fs.readFile(path.join(photosDir, n))));
  await ensureModel(o.modelDir, 'vit-b-32', o.log);
  const worker = await createWorker(parseWorkerConfig({ model: o.modelDir, provider: o.provider, artifacts: path.join(o.workDir, 'artifacts') }), silentLogger);

  const load = async (clients: number, requests: number, maxBatch: number): Promise<LoadResult & { seconds: number }> => {
    const service = makeEnrichService(worker, { maxSize: maxBatch, maxWaitMs: o.maxWaitMs });
    const server = await startInferenceServer(service, { port: 0, host: '127.0.0.1' });
    try {
      const send = async (i: number) => {
        const t0 = performance.now();
        const res = await fetch(`${server.url}/invocations?include_embedding=false`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: photos[i % photos.length] });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`request ${i}: HTTP ${res.status}`);
        return performance.now() - t0;
      };
      for (let i = 0; i < Math.min(clients, 4); i++) await send(i); // warm-up
      const before = service.stats.batches;
      const latencies: number[] = [];
      let next = 0;
      const t0 = performance.now();
      const more = () => next < requests || performance.now() - t0 < o.seconds * 1000;
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (more()) latencies.push(await send(next++));
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      latencies.sort((a, b) => a - b);
      return {
        clients,
        requests: latencies.length,
        seconds: round(seconds, 2),
        requests_per_second: round(latencies.length / seconds),
        p50_ms: round(percentile(latencies, 50)),
        p99_ms: round(percentile(latencies, 99)),
        model_batches: service.stats.batches - before,
      };
    } finally {
      await server.close();
    }
  };

  try {
    const phases = {
      lone: () => load(1, Math.max(8, Math.round(o.requests / 8)), o.maxBatch),
      batched: () => load(o.clients, o.requests, o.maxBatch),
      unbatched: () => load(o.clients, o.requests, 1),
    };
    const windows: Record<keyof typeof phases, (LoadResult & { seconds: number })[]> = { lone: [], batched: [], unbatched: [] };
    o.log(`lone requests, ${o.clients} clients with micro-batching up to ${o.maxBatch}, and without: ${o.repeats} windows of ≥ ${o.seconds} s each, alternating`);
    for (let r = 0; r < Math.max(1, o.repeats); r++) {
      for (const name of Object.keys(phases) as (keyof typeof phases)[]) {
        const w = await phases[name]();
        windows[name].push(w);
        o.log(`  ${name}: ${w.requests_per_second} req/s, p50 ${w.p50_ms} ms, p99 ${w.p99_ms} ms`);
      }
    }
    const summary = (ws: (LoadResult & { seconds: number })[]) => ({
      clients: ws[0].clients,
      requests_per_second: summarize(
        ws.map((w) => w.requests_per_second),
        ws.reduce((n, w) => n + w.requests, 0),
        ws.reduce((n, w) => n + w.seconds, 0),
      ),
      p50_ms: { min: Math.min(...ws.map((w) => w.p50_ms)), median: round(median(ws.map((w) => w.p50_ms))) },
      p99_ms: { min: Math.min(...ws.map((w) => w.p99_ms)), median: round(median(ws.map((w) => w.p99_ms))) },
      model_batches: ws.reduce((n, w) => n + w.model_batches, 0),
    });
    const [lone, batched, unbatched] = [summary(windows.lone), summary(windows.batched), summary(windows.unbatched)];
    return {
      model: worker.model.id,
      provider: worker.model.provider,
      photos: photos.length,
      max_wait_ms: o.maxWaitMs,
      method: { window_seconds: o.seconds, repeats: o.repeats, note: 'requests/s per window, phases alternating; ratios are of medians' },
      lone,
      batched,
      unbatched,
      ratios: {
        throughput_batched_over_unbatched: round(batched.requests_per_second.median / unbatched.requests_per_second.median, 2),
        p99_batched_over_unbatched: round(batched.p99_ms.median / unbatched.p99_ms.median, 2),
      },
    };
  } finally {
    await worker.close();
  }
}
