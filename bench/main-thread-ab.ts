/**
 * The worker's main-thread CPU per image, this tree against an older one, in ONE process with
 * passes alternating: on a shared, loaded machine that is what makes the two comparable. Each pass
 * is one `processShard` of the bench:worker shard (494 photo-like 1–2 MP JPEGs, tiny model, batch
 * 64, decode and model threads as configured by default); CPU is the main thread's, from /proc
 * (bench/windows.ts threadCpuMs), plus its user/system split and context switches.
 *
 *   git archive <commit> lib bench test/support tsconfig.json package.json | tar -x -C /tmp/base
 *   ln -s "$PWD/node_modules" /tmp/base/node_modules
 *   UV_THREADPOOL_SIZE=4 nice -n 10 node -r tsx/cjs bench/main-thread-ab.ts /tmp/base [rounds=6]
 */
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { writePhotoLikeJpegs } from '../test/support/fixtures';
import { ensureModel } from './worker';
import { median, threadCpuMs } from './windows';

interface Tree {
  name: string;
  worker: { processShard(shard: string, out: string): Promise<{ summary: { input: number; failed: number } }>; close(): Promise<void> };
  perImageMs: number[];
  imagesPerSecond: number[];
  totals: { userMs: number; sysMs: number; voluntary: number; involuntary: number; images: number };
}

/** utime/stime (10 ms ticks) and context switches of the main thread. */
function mainThreadStat() {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8');
  const count = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { userMs: Number(fields[11]) * 10, sysMs: Number(fields[12]) * 10, voluntary: count('voluntary_ctxt_switches'), involuntary: count('nonvoluntary_ctxt_switches') };
}

async function load(name: string, root: string, modelDir: string): Promise<Tree> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { createWorker } = require(path.join(root, 'lib/core/pipeline/worker'));
  const { parseWorkerConfig } = require(path.join(root, 'lib/core/pipeline/worker-config'));
  const { silentLogger } = require(path.join(root, 'lib/core/log'));
  const worker = await createWorker(parseWorkerConfig({ model: modelDir, batchSize: 64 }), silentLogger);
  return { name, worker, perImageMs: [], imagesPerSecond: [], totals: { userMs: 0, sysMs: 0, voluntary: 0, involuntary: 0, images: 0 } };
}

async function main() {
  const [baseRoot, roundsArg] = process.argv.slice(2);
  if (!baseRoot) throw new Error('usage: main-thread-ab.ts BASE_TREE [rounds]');
  const rounds = Number(roundsArg ?? 6);
  const photos = path.resolve('.vista/bench/worker/photos-494');
  if (!existsSync(path.join(photos, '.done'))) {
    await writePhotoLikeJpegs(photos, 494, { megapixels: [1, 2] });
    await fs.writeFile(path.join(photos, '.done'), '');
  }
  const modelDir = path.resolve('.vista/models/tiny');
  await ensureModel(modelDir, 'tiny', console.log);
  const work = path.resolve('.vista/bench/main-thread-ab');
  await fs.rm(work, { recursive: true, force: true });
  await fs.mkdir(work, { recursive: true });
  const shard = path.join(work, 'shard.txt');
  await fs.writeFile(shard, (await fs.readdir(photos)).filter((n) => n.endsWith('.jpg')).sort().map((n) => path.join(photos, n)).join('\n') + '\n');

  const trees = [await load('base', path.resolve(baseRoot), modelDir), await load('this tree', path.resolve('.'), modelDir)];
  let n = 0;
  for (const t of trees) await t.worker.processShard(shard, path.join(work, `warm-${n++}`)); // first-use costs
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 ? [...trees].reverse() : trees) {
      const [s0, c0, t0] = [mainThreadStat(), threadCpuMs()!, performance.now()];
      const { summary } = await t.worker.processShard(shard, path.join(work, `pass-${n++}`));
      const [c1, s1] = [threadCpuMs()!, mainThreadStat()];
      if (summary.failed > 0) throw new Error(`${summary.failed} images failed`);
      t.perImageMs.push((c1 - c0) / summary.input);
      t.imagesPerSecond.push((summary.input / (performance.now() - t0)) * 1000);
      for (const k of ['userMs', 'sysMs', 'voluntary', 'involuntary'] as const) t.totals[k] += s1[k] - s0[k];
      t.totals.images += summary.input;
    }
  }
  for (const t of trees) {
    const per = (x: number) => (x / t.totals.images).toFixed(3);
    console.log(
      `${t.name}: main thread ms/image median ${median(t.perImageMs).toFixed(3)}, min ${Math.min(...t.perImageMs).toFixed(3)} [${t.perImageMs.map((x) => x.toFixed(3)).join(' ')}]; ` +
        `user ${per(t.totals.userMs)} + system ${per(t.totals.sysMs)} ms/image; context switches/image ${per(t.totals.voluntary)} voluntary, ${per(t.totals.involuntary)} involuntary; images/s median ${median(t.imagesPerSecond).toFixed(1)}`,
    );
  }
  console.log(`this tree / base, main thread ms/image (medians): ${(median(trees[1].perImageMs) / median(trees[0].perImageMs)).toFixed(3)}`);
  for (const t of trees) await t.worker.close();
  await fs.rm(work, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
