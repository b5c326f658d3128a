/**
 * SEO file names: `<hotel words>-<city words>-<top tag words>-<suffix>.<ext>`, e.g.
 * `grand-hotel-lisboa-lisbon-suite-ocean-view-balcony-k3jx2ma7qwe4dz.jpg`. Pure and deterministic.
 *
 * The suffix makes names unique across the catalog even when everything else is equal: 14
 * base32 characters of sha256(imageId) = 70 bits. Birthday bound for n = 500M names that share
 * the same words: n² / 2⁷¹ ≈ 1.1e-4 expected colliding pairs — and real names share words only
 * within a hotel, which makes it smaller still.
 */
import { hash } from 'node:crypto';
import { SystemErrorCode, VistaError } from '../errors';
import type { ImageFormat } from '../types';
import { asciiWords } from './ascii-words';

export const SEO_SUFFIX_LENGTH = 14;
export const DEFAULT_MAX_LENGTH = 80;
/** Tags beyond the first few only make names longer, not better. */
const MAX_TAGS = 4;
const FALLBACK_WORDS = ['hotel', 'image'];
/** The fallback name must always fit. */
export const MIN_MAX_LENGTH = FALLBACK_WORDS.join('-').length + 1 + SEO_SUFFIX_LENGTH;

const EXTENSIONS: Record<ImageFormat, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif', gif: 'gif', tiff: 'tif' };

/** RFC 4648 alphabet, lowercased: URL-safe and case-insensitive file systems can't fold two names into one. */
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export interface SeoFilenameInput {
  imageId: string;
  format: ImageFormat;
  hotelName?: string;
  city?: string;
  /** Best first (as the tagger returns them). */
  tags: string[];
  /** Characters before the extension, suffix included. Default 80. */
  maxLength?: number;
}

export function seoFilename(input: SeoFilenameInput): string {
  const maxLength = input.maxLength ?? DEFAULT_MAX_LENGTH;
  if (!Number.isInteger(maxLength) || maxLength < MIN_MAX_LENGTH) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `seoFilename maxLength must be an integer ≥ ${MIN_MAX_LENGTH}, got ${maxLength}`);
  }
  const suffix = imageSuffix(input.imageId);
  const words = fitWords(distinctWords(input), maxLength - 1 - suffix.length);
  const stem = words.length > 0 ? words : FALLBACK_WORDS;
  return `${stem.join('-')}-${suffix}.${EXTENSIONS[input.format]}`;
}

export function extensionFor(format: ImageFormat): string {
  return EXTENSIONS[format];
}

/** The first SEO_SUFFIX_LENGTH base32 characters of sha256(imageId). */
export function imageSuffix(imageId: string): string {
  const digest = hash('sha256', imageId, 'buffer');
  let out = '';
  let bits = 0;
  let value = 0;
  for (let i = 0; out.length < SEO_SUFFIX_LENGTH; i++) {
    value = ((value << 8) | digest[i]) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < SEO_SUFFIX_LENGTH) {
      bits -= 5;
      out += BASE32[(value >>> bits) & 31];
    }
  }
  return out;
}

/** Hotel, city, then tag words, each word once (first occurrence wins). */
function distinctWords(input: SeoFilenameInput): string[] {
  const seen = new Set<string>();
  const texts = [input.hotelName ?? '', input.city ?? '', ...input.tags.slice(0, MAX_TAGS)];
  for (const text of texts) {
    for (const word of asciiWords(text)) seen.add(word);
  }
  return [...seen];
}

/** The longest prefix of `words` whose hyphenated form fits `budget`, cut only between words. */
function fitWords(words: string[], budget: number): string[] {
  const kept: string[] = [];
  let length = 0;
  for (const word of words) {
    const added = (kept.length > 0 ? 1 : 0) + word.length;
    if (length + added > budget) {
      // A single word longer than the whole budget: keep its start rather than nothing.
      if (kept.length === 0) kept.push(word.slice(0, budget));
      break;
    }
    kept.push(word);
    length += added;
  }
  return kept;
}
