/**
 * CLIP text tokenization on top of @huggingface/tokenizers: the tokenizer.json adds
 * <|startoftext|> … <|endoftext|>; we truncate to the context (keeping the final end-of-text, as
 * CLIP does), pad with end-of-text and build the attention mask.
 */
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { SystemErrorCode, VistaError } from '../errors';
import { exists } from '../io/location';
import { readJsonFile } from './model-config';
import { MODEL_FILES } from './model-files';

const END_OF_TEXT = '<|endoftext|>';

export interface TokenBatch {
  /** [count, length] row-major. */
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  count: number;
  length: number;
}

export interface ClipTokenizer {
  readonly contextLength: number;
  readonly endOfTextId: number;
  /** Token ids of one text, special tokens included, truncated to the context length. */
  encode(text: string): number[];
  /** Pads every text to `padTo`, or to the longest one in the batch. */
  encodeBatch(texts: string[], padTo?: number): TokenBatch;
}

export function makeClipTokenizer(tokenizerJson: object, tokenizerConfig: object, contextLength: number): ClipTokenizer {
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  } catch (err) {
    throw new VistaError(SystemErrorCode.MODEL_INVALID, `tokenizer.json could not be loaded: ${(err as Error).message}`, { cause: err });
  }
  const endOfTextId = tokenizer.token_to_id(END_OF_TEXT);
  if (endOfTextId === undefined) throw new VistaError(SystemErrorCode.MODEL_INVALID, `tokenizer.json has no ${END_OF_TEXT} token`);

  const encode = (text: string): number[] => {
    const ids = tokenizer.encode(text).ids;
    return ids.length <= contextLength ? ids : [...ids.slice(0, contextLength - 1), endOfTextId];
  };

  return {
    contextLength,
    endOfTextId,
    encode,
    encodeBatch(texts, padTo) {
      const encoded = texts.map(encode);
      const length = padTo ?? Math.max(1, ...encoded.map((ids) => ids.length));
      const inputIds = new BigInt64Array(texts.length * length).fill(BigInt(endOfTextId));
      const attentionMask = new BigInt64Array(texts.length * length);
      encoded.forEach((ids, row) => {
        for (let i = 0; i < ids.length && i < length; i++) {
          inputIds[row * length + i] = BigInt(ids[i]);
          attentionMask[row * length + i] = 1n;
        }
      });
      return { inputIds, attentionMask, count: texts.length, length };
    },
  };
}

export async function loadClipTokenizer(dir: string, contextLength: number): Promise<ClipTokenizer> {
  const json = await readJsonFile(path.join(dir, MODEL_FILES.tokenizer));
  const configFile = path.join(dir, 'tokenizer_config.json');
  const config = (await exists(configFile)) ? await readJsonFile(configFile) : {};
  if (typeof json !== 'object' || json === null) throw new VistaError(SystemErrorCode.MODEL_INVALID, `${dir}/tokenizer.json is not an object`);
  return makeClipTokenizer(json, (config ?? {}) as object, contextLength);
}
