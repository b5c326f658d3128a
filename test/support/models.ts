import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { GENERATOR_VERSION, generateClipModel } from '../../lib/core/model/generate';

export const TEST_CACHE = path.resolve(__dirname, '..', '..', '.vista', 'test-cache');
export const TINY_MODEL_DIR = path.join(TEST_CACHE, 'models', 'tiny');
export const TINY_FP16_MODEL_DIR = path.join(TEST_CACHE, 'models', 'tiny-fp16');
export const TEST_MODEL_SEED = 42;

async function isCurrent(dir: string, dtype: 'fp32' | 'fp16'): Promise<boolean> {
  try {
    const config = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8'));
    const v = config.vista ?? {};
    return v.generator_version === GENERATOR_VERSION && v.seed === TEST_MODEL_SEED && v.dtype === dtype && v.size === 'tiny';
  } catch {
    return false;
  }
}

/** Generates into a temporary folder and renames it, so a crash never leaves half a model. */
async function ensureTinyModel(dir: string, dtype: 'fp32' | 'fp16'): Promise<void> {
  if (await isCurrent(dir, dtype)) return;
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await generateClipModel({ outDir: tmp, size: 'tiny', seed: TEST_MODEL_SEED, dtype });
  await fs.rm(dir, { recursive: true, force: true });
  try {
    await fs.rename(tmp, dir);
  } catch (err) {
    // Another process got there first with the same bytes.
    await fs.rm(tmp, { recursive: true, force: true });
    if (!(await isCurrent(dir, dtype))) throw err;
  }
}

/** Generates the tiny test models (fp32 and fp16) once if missing or stale. */
export async function ensureTestModels(): Promise<void> {
  await ensureTinyModel(TINY_MODEL_DIR, 'fp32');
  await ensureTinyModel(TINY_FP16_MODEL_DIR, 'fp16');
}
