import { Tokenizer } from '@huggingface/tokenizers';
import { loadClipTokenizer, makeClipTokenizer } from '../../lib/core/model/clip-tokenizer';
import { clipArchitecture } from '../../lib/core/model/generate/architecture';
import { HOTEL_CORPUS } from '../../lib/core/model/generate/hotel-corpus';
import { buildClipTokenizerJson, learnMerges } from '../../lib/core/model/generate/tokenizer-json';
import { TINY_MODEL_DIR } from '../support/models';

const built = buildClipTokenizerJson(clipArchitecture('tiny').text.vocabSize);
const tokenizer = new Tokenizer(built.json, {});

describe('generated CLIP tokenizer.json', () => {
  it('wraps text in start/end of text and turns known words into single tokens', () => {
    const encoded = tokenizer.encode('A photo of a Hotel room with an ocean view');
    expect(encoded.tokens).toEqual([
      '<|startoftext|>', 'a</w>', 'photo</w>', 'of</w>', 'a</w>', 'hotel</w>', 'room</w>', 'with</w>', 'an</w>', 'ocean</w>', 'view</w>', '<|endoftext|>',
    ]);
    expect(encoded.ids[0]).toBe(built.bosId);
    expect(encoded.ids[encoded.ids.length - 1]).toBe(built.eosId);
  });

  it('makes every corpus word a single token', () => {
    const words = [...new Set(HOTEL_CORPUS.toLowerCase().match(/\p{L}+/gu))];
    const multi = words.filter((w) => tokenizer.tokenize(w).length !== 1);
    expect(multi).toEqual([]);
  });

  it('gives <|endoftext|> the highest id, all ids below the model vocabulary', () => {
    const ids = [...tokenizer.get_vocab(true).values()];
    expect(Math.max(...ids)).toBe(built.eosId);
    expect(built.eosId).toBe(built.vocabSize - 1);
    expect(built.vocabSize).toBeLessThanOrEqual(clipArchitecture('tiny').text.vocabSize);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('encodes unknown words and any bytes through the byte alphabet, and decodes back', () => {
    const text = 'zyzzyva café ünïcödé ✓';
    const encoded = tokenizer.encode(text);
    expect(encoded.ids.every((id) => Number.isInteger(id) && id < built.vocabSize)).toBe(true);
    expect(encoded.tokens.length).toBeGreaterThan(6);
    expect(tokenizer.decode(encoded.ids, { skip_special_tokens: true })).toBe(text);
  });

  it('learns the same merges every time', () => {
    expect(learnMerges(HOTEL_CORPUS, 500)).toEqual(learnMerges(HOTEL_CORPUS, 500));
    expect(learnMerges('aaab aaab', 10)[0]).toEqual(['a', 'a']);
  });
});

describe('ClipTokenizer (runtime wrapper)', () => {
  const clip = makeClipTokenizer(built.json, {}, 77);

  it('truncates long texts to the context, keeping end-of-text last', () => {
    const ids = clip.encode('hotel '.repeat(200));
    expect(ids).toHaveLength(77);
    expect(ids[0]).toBe(built.bosId);
    expect(ids[76]).toBe(built.eosId);
  });

  it('pads a batch with end-of-text and masks the padding', () => {
    const batch = clip.encodeBatch(['pool', 'a hotel room']);
    expect(batch.length).toBe(5);
    expect(Array.from(batch.attentionMask, Number)).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
    expect(Number(batch.inputIds[3])).toBe(built.eosId);
    expect(clip.encodeBatch(['pool'], 77).length).toBe(77);
  });

  it('loads the tokenizer a generated model folder ships', async () => {
    const fromDisk = await loadClipTokenizer(TINY_MODEL_DIR, 77);
    expect(fromDisk.encode('ocean view')).toEqual(clip.encode('ocean view'));
  });
});
