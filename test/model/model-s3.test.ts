import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { putObject } from '../../lib/core/io/s3';
import { loadClipModel } from '../../lib/core/model';
import { type LocalS3, startS3 } from '../support/s3';
import { TINY_MODEL_DIR } from '../support/models';

const FILES = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/vision_model.onnx', 'onnx/text_model.onnx'];

describe('loadClipModel from an s3:// prefix', () => {
  let s3: LocalS3;
  let cacheDir: string;
  let bucket: string;

  beforeAll(async () => {
    s3 = await startS3();
    bucket = await s3.bucket('models');
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-model-cache-'));
    for (const file of FILES) await putObject(`${bucket}/clip/tiny/${file}`, await fs.readFile(path.join(TINY_MODEL_DIR, file)));
    await putObject(`${bucket}/half/tiny/config.json`, await fs.readFile(path.join(TINY_MODEL_DIR, 'config.json')));
  });
  afterAll(async () => {
    await s3.stop();
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it('downloads once into the cache and gets the same id and embeddings as the local folder', async () => {
    const remote = await loadClipModel(`${bucket}/clip/tiny/`, { cacheDir, logger: () => undefined });
    const local = await loadClipModel(TINY_MODEL_DIR, { logger: () => undefined });
    try {
      expect(remote.id).toBe(local.id);
      const [a] = await remote.embedTexts(['ocean view']);
      const [b] = await local.embedTexts(['ocean view']);
      expect(Array.from(a)).toEqual(Array.from(b));
    } finally {
      await Promise.all([remote.close(), local.close()]);
    }
    const [cached] = await fs.readdir(cacheDir);
    const before = await fs.stat(path.join(cacheDir, cached, 'onnx', 'vision_model.onnx'));

    // Second load: served from the cache, nothing downloaded again.
    const again = await loadClipModel(`${bucket}/clip/tiny`, { cacheDir, logger: () => undefined });
    await again.close();
    const after = await fs.stat(path.join(cacheDir, cached, 'onnx', 'vision_model.onnx'));
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(await fs.readdir(cacheDir)).toHaveLength(1);
  });

  it('MODEL_NOT_FOUND for an empty prefix, MODEL_INVALID for an incomplete one', async () => {
    await expect(loadClipModel(`${bucket}/nothing/here`, { cacheDir })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    await expect(loadClipModel(`${bucket}/half/tiny`, { cacheDir })).rejects.toMatchObject({ code: 'MODEL_INVALID' });
  });
});
