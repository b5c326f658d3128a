/**
 * Smoke tests: every existing `vista bench …` command runs end to end at a tiny size (one short
 * window, the tiny test model) and reports every figure it documents, so none can break unnoticed.
 * No timing is asserted: the figures themselves belong to docs/benchmarks.md.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { command as benchIngest } from '../../lib/cli/commands/bench-ingest';
import { command as benchServe } from '../../lib/cli/commands/bench-serve';
import { command as benchWorker } from '../../lib/cli/commands/bench-worker';
import { TINY_MODEL_DIR } from '../support/models';

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-bench-smoke-'));
});
afterAll(() => fs.rm(root, { recursive: true, force: true }));

async function jsonOf(run: () => Promise<number>): Promise<Record<string, any>> {
  const lines: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(await run()).toBe(0);
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
  return JSON.parse(lines.join('\n'));
}

const windowed = (figure: { windows: number[]; min: number; median: number }, repeats: number) => {
  expect(figure.windows).toHaveLength(repeats);
  expect(figure.min).toBeGreaterThan(0);
  expect(figure.median).toBeGreaterThanOrEqual(figure.min);
};

test('bench worker: every figure, windowed, with decode scaling and the main thread’s CPU per image', async () => {
  const result = await jsonOf(() =>
    benchWorker.run(
      {
        images: '4',
        'window-seconds': '0',
        repeats: '1',
        'naive-images': '2',
        'batch-sizes': '4',
        'decode-threads': '1',
        'vit-model': TINY_MODEL_DIR,
        'tiny-model': TINY_MODEL_DIR,
        'skip-memory-check': true,
        dir: path.join(root, 'worker'),
      },
      [],
    ),
  );
  expect(result.method).toMatchObject({ images: 4, window_seconds: 0, repeats: 1, naive_images: 2 });
  windowed(result.decode_threads.images_per_second['1'], 1);
  for (const key of ['decode_preprocess', 'model_vit_b_32', 'end_to_end_vit_b_32', 'end_to_end_tiny', 'naive_one_at_a_time_vit_b_32']) windowed(result[key], 1);
  expect(result.main_thread_cpu_ms_per_image.passes).toBe(1);
  expect(result.main_thread_cpu_ms_per_image.median).toBeGreaterThan(0);
  for (const key of ['e2e_vit_over_model', 'e2e_tiny_over_decode', 'e2e_vit_over_naive']) expect(result.ratios[key].median).toBeGreaterThan(0);
  expect(Object.keys(result.met)).toEqual(['main_thread_cpu', 'e2e_tiny_over_decode', 'e2e_vit_over_model']);
});

test('bench serve: three phases, windowed, with the batching ratio', async () => {
  const result = await jsonOf(() =>
    benchServe.run(
      { requests: '4', clients: '2', 'max-batch': '2', 'window-seconds': '0', repeats: '1', photos: '2', model: TINY_MODEL_DIR, dir: path.join(root, 'serve') },
      [],
    ),
  );
  for (const phase of ['lone', 'batched', 'unbatched']) {
    windowed(result[phase].requests_per_second, 1);
    expect(result[phase].p99_ms.median).toBeGreaterThan(0);
  }
  expect(result.unbatched.model_batches).toBeGreaterThanOrEqual(4);
  expect(result.ratios.throughput_batched_over_unbatched).toBeGreaterThan(0);
});

test('bench ingest: repeated runs, one row per image', async () => {
  const result = await jsonOf(() => benchIngest.run({ records: '60', dim: '16', repeats: '2', dir: path.join(root, 'ingest') }, []));
  expect(result.exactly_one_row_per_image).toBe(true);
  expect(result.records_per_second_by_round).toHaveLength(2);
  result.records_per_second_by_round.forEach((r: { windows: number[]; min: number; median: number }) => windowed(r, 2));
  expect(result.rows_after.realtime).toBe(60 - 1);
});
