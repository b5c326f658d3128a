import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { clipArchitecture, generateClipModel, parameterCounts } from '../../lib/core/model/generate';
import { buildTextModel } from '../../lib/core/model/generate/text-tower';
import { buildVisionModel } from '../../lib/core/model/generate/vision-tower';
import { OnnxDataType, decodeModel, encodeModel } from '../../lib/core/model/generate/onnx-proto';

const FILES = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/vision_model.onnx', 'onnx/text_model.onnx'];

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-gen-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function readAll(dir: string): Promise<Buffer[]> {
  return Promise.all(FILES.map((f) => fs.readFile(path.join(dir, f))));
}

describe('generateClipModel', () => {
  it('is deterministic: same seed → byte-identical files, other seed → other weights', async () => {
    await generateClipModel({ outDir: path.join(root, 'a'), size: 'tiny', seed: 5 });
    await generateClipModel({ outDir: path.join(root, 'b'), size: 'tiny', seed: 5 });
    await generateClipModel({ outDir: path.join(root, 'c'), size: 'tiny', seed: 6 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((d) => readAll(path.join(root, d))));
    a.forEach((bytes, i) => expect(bytes.equals(b[i])).toBe(true));
    expect(a[FILES.indexOf('onnx/vision_model.onnx')].equals(c[FILES.indexOf('onnx/vision_model.onnx')])).toBe(false);
    expect(a[FILES.indexOf('tokenizer.json')].equals(c[FILES.indexOf('tokenizer.json')])).toBe(true);
  });

  it('writes HF-style configs describing the architecture', async () => {
    const dir = path.join(root, 'a');
    const config = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8'));
    const arch = clipArchitecture('tiny');
    expect(config).toMatchObject({
      model_type: 'clip',
      projection_dim: arch.projectionDim,
      logit_scale_init_value: 2.6592,
      text_config: { hidden_size: arch.text.width, num_hidden_layers: arch.text.layers, max_position_embeddings: 77, vocab_size: arch.text.vocabSize },
      vision_config: { hidden_size: arch.vision.width, image_size: arch.vision.imageSize, patch_size: arch.vision.patchSize },
      vista: { generated: true, seed: 5, size: 'tiny' },
    });
    const pre = JSON.parse(await fs.readFile(path.join(dir, 'preprocessor_config.json'), 'utf8'));
    expect(pre).toMatchObject({ size: { shortest_edge: 32 }, crop_size: { height: 32, width: 32 }, resample: 3, do_normalize: true });
    const tokenizer = JSON.parse(await fs.readFile(path.join(dir, 'tokenizer.json'), 'utf8'));
    expect(tokenizer.model.end_of_word_suffix).toBe('</w>');
    expect(tokenizer.model.vocab['<|endoftext|>']).toBe(config.text_config.eos_token_id);
  });

  it('keeps the tiny model small', async () => {
    const sizes = await Promise.all(FILES.map(async (f) => (await fs.stat(path.join(root, 'a', f))).size));
    expect(sizes.reduce((s, n) => s + n, 0)).toBeLessThan(10 * 2 ** 20);
  });

  it('declares HF export inputs and outputs, float16 ones in the fp16 variant', async () => {
    await generateClipModel({ outDir: path.join(root, 'h'), size: 'tiny', seed: 5, dtype: 'fp16' });
    const io = async (dir: string, file: string) => {
      const model = decodeModel(await fs.readFile(path.join(root, dir, 'onnx', file)));
      expect(model.opset_import).toEqual([{ domain: '', version: 17 }]);
      const describe = (v: (typeof model.graph.input)[number]) => `${v.name}:${v.type.tensor_type.elem_type}`;
      return { inputs: model.graph.input.map(describe), outputs: model.graph.output.map(describe) };
    };
    const F32 = OnnxDataType.FLOAT;
    const F16 = OnnxDataType.FLOAT16;
    const I64 = OnnxDataType.INT64;
    expect(await io('a', 'vision_model.onnx')).toEqual({ inputs: [`pixel_values:${F32}`], outputs: [`image_embeds:${F32}`, `last_hidden_state:${F32}`] });
    expect(await io('h', 'vision_model.onnx')).toEqual({ inputs: [`pixel_values:${F16}`], outputs: [`image_embeds:${F16}`, `last_hidden_state:${F16}`] });
    expect(await io('h', 'text_model.onnx')).toEqual({
      inputs: [`input_ids:${I64}`, `attention_mask:${I64}`],
      outputs: [`text_embeds:${F16}`, `last_hidden_state:${F16}`],
    });
  });

  it('rejects unknown sizes with CONFIG_INVALID', async () => {
    await expect(generateClipModel({ outDir: path.join(root, 'x'), size: 'huge' as 'tiny' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('architecture and parameter counts', () => {
  it('the tiny graphs hold exactly the parameters the shape formula predicts', () => {
    const arch = clipArchitecture('tiny');
    const counts = parameterCounts(arch);
    expect(buildVisionModel(arch, { seed: 1, dtype: 'fp32' }).parameterCount).toBe(counts.vision);
    expect(buildTextModel(arch, { seed: 1, dtype: 'fp32' }).parameterCount).toBe(counts.text);
  });

  it('ViT-B/32 has the shapes and parameter count of OpenAI CLIP ViT-B/32 (151,277,313 with logit_scale)', () => {
    const arch = clipArchitecture('vit-b-32');
    const counts = parameterCounts(arch);
    // Published: visual 87,849,216 parameters; the whole model 151,277,313 including the scalar logit_scale.
    expect(counts.vision).toBe(87_849_216);
    expect(counts.total + 1).toBe(151_277_313);
    // The generator's own graphs, built without weight bytes, agree with the formula.
    const vision = buildVisionModel(arch, { seed: 1, dtype: 'fp32', materialize: false });
    const text = buildTextModel(arch, { seed: 1, dtype: 'fp32', materialize: false });
    expect(vision.parameterCount).toBe(counts.vision);
    expect(text.parameterCount).toBe(counts.text);
    const dims = (name: string) => vision.model.graph.initializer.find((t) => t.name === name)?.dims;
    expect(dims('vision_model.embeddings.patch_embedding.weight')).toEqual([768, 3, 32, 32]);
    expect(dims('vision_model.embeddings.position_embedding.weight')).toEqual([50, 768]);
    expect(dims('vision_model.encoder.layers.11.mlp.fc1.weight')).toEqual([768, 3072]);
    expect(dims('visual_projection.weight')).toEqual([768, 512]);
    expect(text.model.graph.initializer.find((t) => t.name === 'text_model.embeddings.token_embedding.weight')?.dims).toEqual([49408, 512]);
    // Shape-only graphs still encode (and decode) as valid protobuf.
    expect(decodeModel(encodeModel(vision.model)).graph.node.length).toBe(vision.model.graph.node.length);
  });
});
