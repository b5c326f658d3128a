/**
 * Hugging Face compatibility as far as this machine allows: a fixture in the layout and with the
 * config keys of `Xenova/clip-vit-base-patch32` (scripts/make-hf-clip-fixture.ts, generated into a
 * temporary folder, never committed), loaded by the production loader. It checks what our own
 * generator's model cannot: the old-style preprocessor_config (numbers, not objects), AddedToken
 * objects in tokenizer_config.json, CLIP's special-token ids (49406/49407) with the legacy wrong ids
 * in config.json, a 49408-id vocabulary, 224 px / 512-d I/O. What stays unverified without the
 * real files is listed in docs/models.md ("Hugging Face compatibility").
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { makeDecoder } from '../../lib/core/decode';
import { loadClipModel } from '../../lib/core/model';
import { loadClipTokenizer } from '../../lib/core/model/clip-tokenizer';
import { readModelSpec } from '../../lib/core/model/model-config';
import { isRandomWeights } from '../../lib/core/pipeline/worker';
import type { ClipModel } from '../../lib/core/types';
import { XENOVA_CLIP_B32, XENOVA_FILES, buildXenovaClipFixture } from '../../scripts/make-hf-clip-fixture';

let dir: string;
let model: ClipModel;

beforeAll(async () => {
  dir = await buildXenovaClipFixture(path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'vista-hf-')), 'clip-vit-base-patch32'));
  model = await loadClipModel(dir, { provider: 'cpu', intraOpThreads: 1, logger: () => undefined });
});

afterAll(async () => {
  await model?.close();
  await fs.rm(path.dirname(dir), { recursive: true, force: true });
});

const readJson = async (file: string) => JSON.parse(await fs.readFile(path.join(dir, file), 'utf8')) as Record<string, unknown>;

describe(`a ${XENOVA_CLIP_B32.repo}-shaped model folder`, () => {
  it('has the repository’s layout and key settings (the fixture is what it claims)', async () => {
    for (const file of XENOVA_FILES) await expect(fs.stat(path.join(dir, file))).resolves.toBeTruthy();
    const pre = await readJson('preprocessor_config.json');
    expect(pre).toMatchObject({ size: 224, crop_size: 224, resample: 3, do_center_crop: true, feature_extractor_type: 'CLIPFeatureExtractor' });
    const tok = await readJson('tokenizer.json');
    expect(tok.normalizer).toEqual({ type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }] });
    const pre_tokenizer = tok.pre_tokenizer as { type: string; pretokenizers: Record<string, unknown>[] };
    expect(pre_tokenizer.pretokenizers.map((p) => p.type)).toEqual(['Split', 'ByteLevel']);
    expect(pre_tokenizer.pretokenizers[0]).toMatchObject({ behavior: 'Removed', invert: true });
    expect(pre_tokenizer.pretokenizers[1]).toMatchObject({ add_prefix_space: false, use_regex: false });
    expect(tok.model).toMatchObject({ type: 'BPE', end_of_word_suffix: '</w>', unk_token: '<|endoftext|>' });
    expect((await readJson('tokenizer_config.json')).bos_token).toMatchObject({ __type: 'AddedToken', content: '<|startoftext|>' });
    expect((await readJson('config.json')).text_config).toMatchObject({ eos_token_id: 2, max_position_embeddings: 77, vocab_size: 49408 });
  });

  it('reads the model spec: 512-d, 77 tokens, 224 px bicubic crop, CLIP mean/std, trained logit scale', async () => {
    const spec = await readModelSpec(dir);
    expect(spec).toEqual({
      embedDim: 512,
      // Not exp(logit_scale_init_value) = 14.3: that is the value before training.
      logitScale: 100,
      contextLength: 77,
      preprocess: { resizeShortestEdge: 224, cropSize: 224, mean: [...XENOVA_CLIP_B32.mean], std: [...XENOVA_CLIP_B32.std], resample: 'cubic' },
    });
  });

  it('is not mistaken for a random-weights model (no warning for real exports)', async () => {
    await expect(isRandomWeights(dir)).resolves.toBe(false);
  });

  it('tokenizes with CLIP’s normalizer and pre-tokenizer, and CLIP’s special ids from tokenizer.json', async () => {
    const tokenizer = await loadClipTokenizer(dir, 77);
    expect(tokenizer.endOfTextId).toBe(XENOVA_CLIP_B32.endOfTextId); // not config.json's legacy eos_token_id 2
    const ids = tokenizer.encode('A Rooftop\t\tPOOL  at night');
    expect(ids[0]).toBe(XENOVA_CLIP_B32.startOfTextId);
    expect(ids[ids.length - 1]).toBe(XENOVA_CLIP_B32.endOfTextId);
    // Lowercase and whitespace collapsing (normalizer); NFC: a composed and a decomposed é agree.
    expect(ids).toEqual(tokenizer.encode('a rooftop pool at night'));
    expect(tokenizer.encode('caf\u00e9')).toEqual(tokenizer.encode('cafe\u0301'));
    // The Split pattern separates letters, digits and punctuation: "pool!!" is "pool" then "!!".
    expect(tokenizer.encode('pool!!').slice(0, 2)).toEqual(tokenizer.encode('pool').slice(0, 2));
    expect(tokenizer.encode('room 42')).toHaveLength(tokenizer.encode('room 4 2').length);
    // Truncated to the context, keeping the final end-of-text.
    const long = tokenizer.encode('pool '.repeat(200));
    expect(long).toHaveLength(77);
    expect(long[76]).toBe(XENOVA_CLIP_B32.endOfTextId);
    const batch = tokenizer.encodeBatch(['pool', 'a rooftop pool'], 77);
    expect(batch.inputIds[76]).toBe(BigInt(XENOVA_CLIP_B32.endOfTextId)); // padded with end-of-text
  });

  it('embeds a decoded photo and texts through the production path (224 px in, 512-d unit vectors out)', async () => {
    const photo = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 30, g: 120, b: 200 } } }).jpeg().toBuffer();
    const decoded = await makeDecoder({}, model.preprocess).decode(photo);
    expect(decoded.pixels).toHaveLength(3 * 224 * 224);
    const [image] = await model.embedImages(decoded.pixels, 1);
    const texts = await model.embedTexts(['a rooftop pool at night', 'a quiet room']);
    for (const v of [image, ...texts]) {
      expect(v).toHaveLength(512);
      expect(Math.hypot(...v)).toBeCloseTo(1, 4);
    }
    expect(texts[0]).not.toEqual(texts[1]);
  });
});
