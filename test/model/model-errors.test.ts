import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadClipModel, parseModelSpec } from '../../lib/core/model';
import { TINY_MODEL_DIR } from '../support/models';

const quiet = { logger: () => undefined };
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-model-errors-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function copyModel(name: string): Promise<string> {
  const dir = path.join(root, name);
  await fs.cp(TINY_MODEL_DIR, dir, { recursive: true });
  return dir;
}

describe('loading a missing or broken model', () => {
  it('MODEL_NOT_FOUND for a folder that does not exist or holds no model', async () => {
    await expect(loadClipModel(path.join(root, 'nope'), quiet)).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    await fs.mkdir(path.join(root, 'empty'));
    await expect(loadClipModel(path.join(root, 'empty'), quiet)).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });

  it('MODEL_INVALID naming the missing files of an incomplete folder', async () => {
    const dir = await copyModel('incomplete');
    await fs.rm(path.join(dir, 'onnx', 'text_model.onnx'));
    await expect(loadClipModel(dir, quiet)).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      details: { missing: ['onnx/text_model.onnx'] },
    });
  });

  it('MODEL_INVALID for unparseable or wrong configs', async () => {
    const dir = await copyModel('bad-json');
    await fs.writeFile(path.join(dir, 'config.json'), '{ not json');
    await expect(loadClipModel(dir, quiet)).rejects.toMatchObject({ code: 'MODEL_INVALID' });
    const dir2 = await copyModel('bad-config');
    await fs.writeFile(path.join(dir2, 'config.json'), JSON.stringify({ model_type: 'clip' }));
    await expect(loadClipModel(dir2, quiet)).rejects.toThrow(/projection_dim/);
  });

  it('MODEL_INVALID for a corrupt ONNX file', async () => {
    const dir = await copyModel('corrupt-onnx');
    await fs.writeFile(path.join(dir, 'onnx', 'vision_model.onnx'), Buffer.from('definitely not protobuf'));
    await expect(loadClipModel(dir, quiet)).rejects.toMatchObject({ code: 'MODEL_INVALID' });
  });

  it('MODEL_INVALID when the graph lacks the CLIP inputs/outputs', async () => {
    const dir = await copyModel('swapped');
    await fs.copyFile(path.join(dir, 'onnx', 'text_model.onnx'), path.join(dir, 'onnx', 'vision_model.onnx'));
    await expect(loadClipModel(dir, quiet)).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringMatching(/pixel_values/) });
  });
});

describe('parseModelSpec', () => {
  const config = { projection_dim: 512, logit_scale_init_value: 2.6592, vision_config: { image_size: 224 }, vista: { logit_scale: 50 } };

  it('accepts the older integer size style and maps resample codes to sharp kernels', () => {
    const spec = parseModelSpec(config, { size: 224, crop_size: 224, do_center_crop: true, resample: 2 });
    expect(spec.preprocess).toMatchObject({ resizeShortestEdge: 224, cropSize: 224, resample: 'linear' });
    // The trained scale from vista.logit_scale; logit_scale_init_value is the pre-training value and ignored.
    expect(spec.logitScale).toBe(50);
    expect(spec.contextLength).toBe(77);
    expect(parseModelSpec(config, { size: { shortest_edge: 224 }, resample: 1 }).preprocess.resample).toBe('lanczos3');
    expect(parseModelSpec(config, { size: { shortest_edge: 224 }, resample: 0 }).preprocess.resample).toBe('nearest');
  });

  it('defaults logit scale to 100 and the OpenAI mean/std', () => {
    const spec = parseModelSpec({ projection_dim: 8, logit_scale_init_value: 2.6592 }, { size: { shortest_edge: 16 } });
    expect(spec.logitScale).toBe(100);
    expect(spec.preprocess.mean).toEqual([0.48145466, 0.4578275, 0.40821073]);
    expect(spec.preprocess.resample).toBe('cubic');
  });

  it('rejects a crop that does not match the vision tower and unknown resample codes', () => {
    expect(() => parseModelSpec(config, { size: 256, crop_size: 256 })).toThrow(/does not match/);
    expect(() => parseModelSpec(config, { size: 224, resample: 4 })).toThrow(/resample/);
  });
});
