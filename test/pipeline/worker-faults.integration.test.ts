/**
 * Acceptance: the real worker (tiny model) enriching images held in S3 through the
 * fault-injecting proxy loses nothing, doubles nothing and fails no good image at its default
 * retry settings; the checker of `vista chaos` is itself shown to catch wrongly failed images;
 * and the worker process under 30% SlowDown at concurrency 64 finishes every image and exits.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { runChaos } from '../../lib/core/chaos/run-chaos';
import { readJson, writeAtomic } from '../../lib/core/io/location';
import { silentLogger } from '../../lib/core/log';
import { TINY_MODEL_DIR } from '../support/models';
import { startS3 } from '../support/s3';
import { writePhotoLikeJpegs } from '../support/fixtures';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';

const REPO = path.resolve(__dirname, '..', '..');

describe('worker through the fault-injecting S3 proxy', () => {
  it('every fault kind: nothing lost, nothing doubled, no good image failed, no hang, no crash', async () => {
    const results = await runChaos({
      images: 10,
      trials: 1,
      experiments: ['slowdown-30', 'error500-20', 'resets-15', 'cut-bodies-20', 'stalls-10', 'lost-writes-20', 'mixed'],
      worker: { model: TINY_MODEL_DIR },
      logger: silentLogger,
    });
    const bad = results.filter((r) => r.lost + r.doubled + r.wronglyFailed + r.hangs + r.crashes > 0);
    expect(bad).toEqual([]);
    // Faults really were injected (a small catalog may draw none for a single experiment).
    expect(results.reduce((n, r) => n + r.faultsInjected, 0)).toBeGreaterThan(20);
  });

  it('the checker catches good images failed (retries off, every image GET throttled)', async () => {
    const [result] = await runChaos({
      images: 6,
      trials: 1,
      experiments: [{ name: 'throttled-always', faults: 'SlowDown on every image GET', rules: [{ fault: 'slowDown', rate: 1, keys: /^images\// }] }],
      worker: { model: TINY_MODEL_DIR, fetchRetries: 0, fetchThrottleRetries: 0, endRetryPauseMs: 0 },
      logger: silentLogger,
    });
    // 6 good pictures, and 5 broken entries that now fail with FETCH_FAILED instead of their own code.
    expect(result).toMatchObject({ lost: 0, doubled: 0, wronglyFailed: 11, hangs: 0, crashes: 0 });
  });

  it('vista worker under 30% SlowDown at concurrency 64 fails no image and exits when done', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-slowdown-'));
    const s3 = await startS3({ faults: { seed: 7 } });
    try {
      const bucket = await s3.bucket('slowdown');
      const photos = await writePhotoLikeJpegs(path.join(dir, 'img'), 20, { megapixels: 0.02 });
      const lines: string[] = [];
      for (let i = 0; i < 80; i++) {
        const uri = `${bucket}/images/${i}.jpg`;
        await writeAtomic(uri, await fs.readFile(photos[i % photos.length]));
        lines.push(JSON.stringify({ uri, image_id: `img-${i}` }));
      }
      await writeAtomic(`${bucket}/shard.jsonl`, lines.join('\n') + '\n');
      s3.proxy!.setRules([{ fault: 'slowDown', rate: 0.3, operations: ['GetObject'], keys: /^images\// }]);

      const child = spawn(
        process.execPath,
        [path.join(REPO, 'bin', 'vista.js'), 'worker', '--shard', `${bucket}/shard.jsonl`, '--out', `${bucket}/out`, '--model', TINY_MODEL_DIR,
          '--artifacts', path.join(dir, 'artifacts'), '--concurrency', '64', '--json'],
        { cwd: REPO, env: process.env, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      let completeAt = 0;
      child.stderr!.on('data', () => {
        if (!completeAt && stderr.includes('"shard complete"')) completeAt = Date.now();
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect({ code, stderr: code === 0 ? '' : stderr.slice(-1500) }).toEqual({ code: 0, stderr: '' });
      // It exited promptly after its work (no abandoned attempts holding it open).
      expect(Date.now() - completeAt).toBeLessThan(10_000);
      expect(s3.proxy!.stats().injected.slowDown).toBeGreaterThan(10);
      const summary = await readJson<{ input: number; succeeded: number; failed: number }>(`${bucket}/out/summary.json`);
      expect(summary).toMatchObject({ input: 80, succeeded: 80, failed: 0 });
    } finally {
      await s3.stop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
