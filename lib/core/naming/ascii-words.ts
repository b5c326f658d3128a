/**
 * Free text (hotel names, cities, tag slugs in any language) → lowercase ASCII words for URLs.
 * Accents come off through Unicode compatibility decomposition; the few Latin letters that do not
 * decompose (ß, æ, ø, ł, …) go through a small table; anything else (CJK, Cyrillic, emoji…)
 * separates words and disappears.
 */

/** Latin letters NFKD leaves whole, in lowercase (input is lowercased first). */
const LETTERS: Record<string, string> = {
  ß: 'ss',
  æ: 'ae',
  œ: 'oe',
  ø: 'o',
  ł: 'l',
  đ: 'd',
  ð: 'd',
  þ: 'th',
  ı: 'i',
  ħ: 'h',
  ŧ: 't',
  ŋ: 'n',
  ĸ: 'k',
  ſ: 's',
  ƒ: 'f',
  ɐ: 'a',
  ə: 'e',
};
const ASCII_ONLY = /^[\x00-\x7f]*$/;
const LETTER_PATTERN = new RegExp(`[${Object.keys(LETTERS).join('')}]`, 'g');

/**
 * Words that add nothing to a file name, in the languages hotel names are mostly written in.
 * Single letters cover elisions and possessives ("l'hôtel", "d'angleterre", "macy's").
 */
export const STOP_WORDS: ReadonlySet<string> = new Set([
  // English
  'the', 'a', 'an', 'of', 'and', 'with', 'in', 'at', 'by', 'for', 'to', 'on', 'or', 'from', 'its',
  // French
  'de', 'la', 'le', 'les', 'du', 'des', 'et', 'au', 'aux', 'un', 'une', 'l', 'd', 's',
  // Spanish, Portuguese, Italian
  'el', 'los', 'las', 'y', 'del', 'en', 'con', 'o', 'os', 'do', 'da', 'dos', 'das', 'e', 'em', 'il', 'lo', 'gli', 'di', 'della', 'delle',
  // German, Dutch
  'das', 'der', 'die', 'und', 'dem', 'den', 'im', 'am', 'zu', 'mit', 'von', 'het', 'een', 'van',
]);

/** Lowercase ASCII words of `text`, stop words removed, in order (duplicates kept). */
export function asciiWords(text: string): string[] {
  // Most names are plain ASCII already: decomposition is the slow part, skip it for them.
  const lower = text.toLowerCase();
  const ascii = ASCII_ONLY.test(lower)
    ? lower
    : lower
        .normalize('NFKD')
        .replace(/\p{M}+/gu, '')
        .replace(LETTER_PATTERN, (letter) => LETTERS[letter]);
  return ascii.split(/[^a-z0-9]+/).filter((word) => word !== '' && !STOP_WORDS.has(word));
}
