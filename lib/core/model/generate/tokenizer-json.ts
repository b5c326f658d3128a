/**
 * A working CLIP-style byte-level BPE tokenizer.json, structured exactly like the one Hugging Face
 * publishes for openai/clip-vit-base-patch32 (same normalizer, pre-tokenizer, suffix "</w>",
 * post-processor and decoder), with a small vocabulary: the 256 byte symbols with and without
 * "</w>", merges learned from HOTEL_CORPUS, then <|startoftext|> and <|endoftext|> as the two
 * highest ids (text pooling takes the argmax of input_ids to find the end-of-text position).
 */
import { HOTEL_CORPUS } from './hotel-corpus';

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
const END_OF_WORD = '</w>';
const CLIP_SPLIT_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/** GPT-2/CLIP's reversible byte → printable-character map, as [byte, symbol] in CLIP's vocabulary order. */
function byteTable(): Array<[number, string]> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: Array<[number, string]> = printable.map((b) => [b, String.fromCodePoint(b)]);
  let shifted = 0;
  for (let b = 0; b < 256; b++) if (!printable.includes(b)) table.push([b, String.fromCodePoint(256 + shifted++)]);
  return table;
}

function byteEncoder(): string[] {
  const encoder = new Array<string>(256);
  for (const [b, symbol] of byteTable()) encoder[b] = symbol;
  return encoder;
}

/** Corpus words as CLIP's pre-tokenizer sees them, each as byte symbols with "</w>" on the last. */
function corpusWords(corpus: string): Map<string, number> {
  const encoder = byteEncoder();
  const counts = new Map<string, number>();
  for (const word of corpus.normalize('NFC').toLowerCase().match(/\p{L}+/gu) ?? []) {
    const symbols = Array.from(Buffer.from(word, 'utf8'), (b) => encoder[b]);
    symbols[symbols.length - 1] += END_OF_WORD;
    const key = symbols.join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * Classic BPE training: repeatedly merge the most frequent adjacent pair (ties broken by the
 * pair's text, so the result is deterministic) until every word is one symbol or the budget ends.
 */
export function learnMerges(corpus: string, maxMerges: number): Array<[string, string]> {
  let words = [...corpusWords(corpus)].map(([key, count]) => ({ symbols: key.split(' '), count }));
  const merges: Array<[string, string]> = [];
  while (merges.length < maxMerges) {
    const pairCounts = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const pair = `${symbols[i]} ${symbols[i + 1]}`;
        pairCounts.set(pair, (pairCounts.get(pair) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [pair, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && best !== undefined && pair < best)) {
        best = pair;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    const [left, right] = best.split(' ') as [string, string];
    merges.push([left, right]);
    words = words.map(({ symbols, count }) => ({ symbols: mergePair(symbols, left, right), count }));
  }
  return merges;
}

function mergePair(symbols: string[], left: string, right: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      out.push(left + right);
      i++;
    } else out.push(symbols[i]);
  }
  return out;
}

export interface ClipTokenizerJson {
  json: Record<string, unknown>;
  bosId: number;
  eosId: number;
  /** Number of ids used (highest id + 1). */
  vocabSize: number;
}

/** Builds tokenizer.json whose ids all fit below `maxVocabSize`. */
export function buildClipTokenizerJson(maxVocabSize: number, corpus = HOTEL_CORPUS): ClipTokenizerJson {
  const base = byteTable().map(([, symbol]) => symbol);
  const alphabet = [...base, ...base.map((s) => s + END_OF_WORD)];
  const merges = learnMerges(corpus, Math.max(0, maxVocabSize - alphabet.length - 2));
  const vocab: Record<string, number> = {};
  for (const token of [...alphabet, ...merges.map(([a, b]) => a + b)]) {
    if (!(token in vocab)) vocab[token] = Object.keys(vocab).length;
  }
  const bosId = Object.keys(vocab).length;
  const eosId = bosId + 1;
  vocab[START_OF_TEXT] = bosId;
  vocab[END_OF_TEXT] = eosId;
  if (eosId >= maxVocabSize) throw new Error(`tokenizer needs ${eosId + 1} ids but the model has ${maxVocabSize}`);

  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(bosId, START_OF_TEXT), special(eosId, END_OF_TEXT)],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT_PATTERN }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [END_OF_TEXT, eosId],
      cls: [START_OF_TEXT, bosId],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: END_OF_TEXT,
      continuing_subword_prefix: '',
      end_of_word_suffix: END_OF_WORD,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  return { json, bosId, eosId, vocabSize: eosId + 1 };
}
