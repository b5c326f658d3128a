/**
 * A stand-in for the Hugging Face repository `Xenova/clip-vit-base-patch32` (the Transformers.js
 * ONNX export of openai/clip-vit-base-patch32), built from its published structure so that the
 * production loader (lib/core/model) is tested against the files it will meet, not only against
 * what our own generator writes:
 *
 *   config.json               CLIPModel config: projection_dim 512, logit_scale_init_value 2.6592,
 *                             text_config (max_position_embeddings 77, vocab_size 49408, bos 0 /
 *                             eos 2 / pad 1 as openai's file has them), vision_config (image_size 224,
 *                             patch_size 32); no `vista` block (so no random-weights marker).
 *   preprocessor_config.json  the OLD style openai published: `size: 224` and `crop_size: 224` as
 *                             numbers, feature_extractor_type CLIPFeatureExtractor, resample 3.
 *   tokenizer.json            normalizer Sequence[NFC, Replace(\s+ → " "), Lowercase]; pre_tokenizer
 *                             Sequence[Split(CLIP's regex, Removed, invert), ByteLevel(no prefix
 *                             space, use_regex false)]; RobertaProcessing; ByteLevel decoder; BPE
 *                             with end_of_word_suffix "</w>"; <|startoftext|> 49406, <|endoftext|> 49407.
 *   tokenizer_config.json     CLIPTokenizer, model_max_length 77, special tokens as AddedToken
 *                             objects ({"__type": "AddedToken", "content": …}), errors "replace".
 *   special_tokens_map.json   bos/eos/unk as objects, pad as a plain string.
 *   onnx/vision_model.onnx    pixel_values [batch, 3, 224, 224] → image_embeds [batch, 512]
 *   onnx/text_model.onnx      input_ids, attention_mask [batch, sequence] → text_embeds [batch, 512]
 *
 * What is NOT real: the weights (seeded random, tiny transformers behind the real I/O shapes), the
 * vocabulary (the 512 byte symbols plus merges learned from a small corpus instead of CLIP's 49,152
 * merges; ids between them and 49406 are unused), and the repository's other files (onnx/model.onnx,
 * the *_quantized / *_fp16 variants, vocab.json, merges.txt, quantize_config.json), which the loader
 * does not read. See docs/models.md, "Hugging Face compatibility", for what stays unverified.
 *
 * Usage: npx tsx scripts/make-hf-clip-fixture.ts OUT_DIR   (tests call buildXenovaClipFixture)
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type ClipArchitecture, buildClipTokenizerJson, buildTextModel, buildVisionModel } from '../lib/core/model/generate';
import { encodeModel } from '../lib/core/model/generate/onnx-proto';

export const XENOVA_CLIP_B32 = {
  repo: 'Xenova/clip-vit-base-patch32',
  projectionDim: 512,
  imageSize: 224,
  patchSize: 32,
  contextLength: 77,
  vocabSize: 49408,
  startOfTextId: 49406,
  endOfTextId: 49407,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
} as const;

/** The files the fixture writes, in the repository's layout. */
export const XENOVA_FILES = [
  'config.json',
  'preprocessor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'onnx/vision_model.onnx',
  'onnx/text_model.onnx',
] as const;

const START = '<|startoftext|>';
const END = '<|endoftext|>';

/** Real I/O shapes (224 px, 32 px patches, 77 tokens, 49408 ids, 512-d embeddings), tiny insides. */
const FIXTURE_ARCH: ClipArchitecture = {
  size: 'tiny',
  projectionDim: XENOVA_CLIP_B32.projectionDim,
  vision: { imageSize: XENOVA_CLIP_B32.imageSize, patchSize: XENOVA_CLIP_B32.patchSize, width: 32, layers: 1, heads: 2, mlpWidth: 64 },
  text: { contextLength: XENOVA_CLIP_B32.contextLength, vocabSize: XENOVA_CLIP_B32.vocabSize, width: 32, layers: 1, heads: 2, mlpWidth: 64 },
};

function addedToken(content: string) {
  return { __type: 'AddedToken', content, lstrip: false, normalized: true, rstrip: false, single_word: false };
}

function configJson(): Record<string, unknown> {
  const common = { attention_dropout: 0, dropout: 0, hidden_act: 'quick_gelu', initializer_factor: 1, initializer_range: 0.02, layer_norm_eps: 1e-5 };
  return {
    _name_or_path: 'openai/clip-vit-base-patch32',
    architectures: ['CLIPModel'],
    initializer_factor: 1,
    logit_scale_init_value: 2.6592,
    model_type: 'clip',
    projection_dim: XENOVA_CLIP_B32.projectionDim,
    text_config: {
      ...common,
      // openai's file carries these legacy ids, which are not the tokenizer's: the loader must
      // take <|endoftext|> from tokenizer.json, never from here.
      bos_token_id: 0,
      eos_token_id: 2,
      pad_token_id: 1,
      hidden_size: 512,
      intermediate_size: 2048,
      max_position_embeddings: XENOVA_CLIP_B32.contextLength,
      model_type: 'clip_text_model',
      num_attention_heads: 8,
      num_hidden_layers: 12,
      projection_dim: XENOVA_CLIP_B32.projectionDim,
      vocab_size: XENOVA_CLIP_B32.vocabSize,
    },
    torch_dtype: 'float32',
    transformers_version: '4.33.0.dev0',
    vision_config: {
      ...common,
      hidden_size: 768,
      image_size: XENOVA_CLIP_B32.imageSize,
      intermediate_size: 3072,
      model_type: 'clip_vision_model',
      num_attention_heads: 12,
      num_channels: 3,
      num_hidden_layers: 12,
      patch_size: XENOVA_CLIP_B32.patchSize,
      projection_dim: XENOVA_CLIP_B32.projectionDim,
    },
  };
}

function preprocessorConfigJson(): Record<string, unknown> {
  return {
    crop_size: XENOVA_CLIP_B32.imageSize,
    do_center_crop: true,
    do_normalize: true,
    do_resize: true,
    feature_extractor_type: 'CLIPFeatureExtractor',
    image_mean: [...XENOVA_CLIP_B32.mean],
    image_std: [...XENOVA_CLIP_B32.std],
    resample: 3,
    size: XENOVA_CLIP_B32.imageSize,
  };
}

/** The generator's tokenizer.json (same pipeline as CLIP's), re-keyed so the special ids are CLIP's. */
function tokenizerJson(): Record<string, unknown> {
  const { json, bosId, eosId } = buildClipTokenizerJson(4096);
  const model = json.model as { vocab: Record<string, number> };
  const vocab = Object.fromEntries(Object.entries(model.vocab).filter(([, id]) => id !== bosId && id !== eosId));
  vocab[START] = XENOVA_CLIP_B32.startOfTextId;
  vocab[END] = XENOVA_CLIP_B32.endOfTextId;
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  return {
    ...json,
    added_tokens: [special(XENOVA_CLIP_B32.startOfTextId, START), special(XENOVA_CLIP_B32.endOfTextId, END)],
    post_processor: { ...(json.post_processor as object), sep: [END, XENOVA_CLIP_B32.endOfTextId], cls: [START, XENOVA_CLIP_B32.startOfTextId] },
    model: { ...(json.model as object), vocab },
  };
}

function tokenizerConfigJson(): Record<string, unknown> {
  return {
    add_prefix_space: false,
    bos_token: addedToken(START),
    clean_up_tokenization_spaces: true,
    do_lower_case: true,
    eos_token: addedToken(END),
    errors: 'replace',
    model_max_length: XENOVA_CLIP_B32.contextLength,
    pad_token: END,
    tokenizer_class: 'CLIPTokenizer',
    unk_token: addedToken(END),
  };
}

function specialTokensMapJson(): Record<string, unknown> {
  const token = (content: string) => ({ content, lstrip: false, normalized: true, rstrip: false, single_word: false });
  return { bos_token: token(START), eos_token: token(END), pad_token: END, unk_token: token(END) };
}

/** Writes the fixture into `outDir` (created); returns `outDir`. Takes about a second. */
export async function buildXenovaClipFixture(outDir: string, seed = 7): Promise<string> {
  await fs.mkdir(path.join(outDir, 'onnx'), { recursive: true });
  const write = (file: string, value: unknown) => fs.writeFile(path.join(outDir, file), `${JSON.stringify(value, null, 2)}\n`);
  await write('config.json', configJson());
  await write('preprocessor_config.json', preprocessorConfigJson());
  await write('tokenizer.json', tokenizerJson());
  await write('tokenizer_config.json', tokenizerConfigJson());
  await write('special_tokens_map.json', specialTokensMapJson());
  await fs.writeFile(path.join(outDir, 'onnx', 'vision_model.onnx'), encodeModel(buildVisionModel(FIXTURE_ARCH, { seed, dtype: 'fp32' }).model));
  await fs.writeFile(path.join(outDir, 'onnx', 'text_model.onnx'), encodeModel(buildTextModel(FIXTURE_ARCH, { seed, dtype: 'fp32' }).model));
  return outDir;
}

if (require.main === module) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: npx tsx scripts/make-hf-clip-fixture.ts OUT_DIR');
    process.exit(2);
  }
  buildXenovaClipFixture(path.resolve(out)).then(
    (dir) => console.log(`wrote a ${XENOVA_CLIP_B32.repo}-shaped fixture to ${dir}`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
