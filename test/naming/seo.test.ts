import { SystemErrorCode } from '../../lib/core/errors';
import { asciiWords } from '../../lib/core/naming/ascii-words';
import { MIN_MAX_LENGTH, SEO_SUFFIX_LENGTH, imageSuffix, seoFilename } from '../../lib/core/naming/seo';
import type { ImageFormat } from '../../lib/core/types';
import { seededRandom } from '../support/fixtures';

const URL_SAFE = /^[a-z0-9]+(-[a-z0-9]+)*\.(jpg|png|webp|avif|gif|tif)$/;
const FORMATS: ImageFormat[] = ['jpeg', 'png', 'webp', 'avif', 'gif', 'tiff'];

/** The name without its extension. */
const stem = (name: string) => name.slice(0, name.lastIndexOf('.'));
/** The words of the name, suffix excluded. */
const words = (name: string) => stem(name).split('-').slice(0, -1);

describe('seoFilename', () => {
  it('joins hotel, city and top tags, transliterated, without stop words, ending in the id suffix', () => {
    const name = seoFilename({
      imageId: 'img-1',
      format: 'jpeg',
      hotelName: 'Hôtel de la Plage',
      city: 'Saint-Émilion',
      tags: ['ocean-view', 'family-room'],
    });
    expect(name).toBe(`hotel-plage-saint-emilion-ocean-view-family-room-${imageSuffix('img-1')}.jpg`);
  });

  it('transliterates letters NFKD does not decompose', () => {
    expect(asciiWords('Straße Ærø Łódź Øresund Þingvellir İstanbul Œuvre đakovo ﬁnca ＡＢＣ')).toEqual([
      'strasse', 'aero', 'lodz', 'oresund', 'thingvellir', 'istanbul', 'oeuvre', 'dakovo', 'finca', 'abc',
    ]);
  });

  it('drops non-Latin scripts and falls back to "hotel-image" when nothing is left', () => {
    const name = seoFilename({ imageId: 'x', format: 'png', hotelName: '東京ホテル', city: 'Москва', tags: [] });
    expect(name).toBe(`hotel-image-${imageSuffix('x')}.png`);
    expect(seoFilename({ imageId: 'x', format: 'png', hotelName: 'Ritz 東京', tags: [] })).toBe(`ritz-${imageSuffix('x')}.png`);
  });

  it('never repeats a word', () => {
    const name = seoFilename({ imageId: 'x', format: 'webp', hotelName: 'Ocean Hotel Paris', city: 'Paris', tags: ['ocean-view', 'hotel-view', 'pool'] });
    expect(words(name)).toEqual(['ocean', 'hotel', 'paris', 'view', 'pool']);
  });

  it('maps every format to its extension', () => {
    const ext = FORMATS.map((format) => seoFilename({ imageId: 'x', format, tags: ['pool'] }).split('.').pop());
    expect(ext).toEqual(['jpg', 'png', 'webp', 'avif', 'gif', 'tif']);
  });

  it('cuts at a word boundary to fit maxLength, always keeping the suffix', () => {
    const input = { imageId: 'x', format: 'jpeg' as const, hotelName: 'Grand Hotel Excelsior Vittoria Sorrento', city: 'Sorrento', tags: ['sea-view', 'junior-suite', 'balcony'] };
    const full = seoFilename({ ...input, maxLength: 200 });
    for (let maxLength = MIN_MAX_LENGTH; maxLength <= 80; maxLength++) {
      const name = seoFilename({ ...input, maxLength });
      expect(stem(name).length).toBeLessThanOrEqual(maxLength);
      expect(stem(name).endsWith(`-${imageSuffix('x')}`)).toBe(true);
      expect(words(full).slice(0, words(name).length)).toEqual(words(name));
    }
    expect(stem(seoFilename(input)).length).toBeLessThanOrEqual(80);
  });

  it('keeps the start of a single word longer than the whole budget', () => {
    const name = seoFilename({ imageId: 'x', format: 'gif', hotelName: 'Donaudampfschifffahrtsgesellschaftskapitaenshotel', tags: [], maxLength: MIN_MAX_LENGTH });
    expect(stem(name).length).toBe(MIN_MAX_LENGTH);
    expect(name.startsWith('donaudampf')).toBe(true);
  });

  it('refuses a maxLength the suffix cannot fit in', () => {
    expect(() => seoFilename({ imageId: 'x', format: 'png', tags: [], maxLength: MIN_MAX_LENGTH - 1 })).toThrow(
      expect.objectContaining({ code: SystemErrorCode.CONFIG_INVALID }),
    );
  });

  it('derives a stable base32 suffix of the documented length from the image id', () => {
    expect(imageSuffix('abc')).toMatch(new RegExp(`^[a-z2-7]{${SEO_SUFFIX_LENGTH}}$`));
    expect(imageSuffix('abc')).toBe(imageSuffix('abc'));
    expect(imageSuffix('abc')).not.toBe(imageSuffix('abd'));
  });
});

/** Random strings mixing ASCII, accented Latin, other scripts, emoji, marks, lone surrogates and punctuation. */
function randomText(random: () => number): string {
  const ranges: [number, number][] = [
    [0x20, 0x7e], [0xc0, 0x24f], [0x300, 0x36f], [0x370, 0x3ff], [0x400, 0x4ff], [0x600, 0x6ff],
    [0x3040, 0x30ff], [0x4e00, 0x4fff], [0xd800, 0xdfff], [0xff00, 0xffef], [0x1f300, 0x1f6ff], [0x2000, 0x206f],
  ];
  let out = '';
  const length = Math.floor(random() * 40);
  for (let i = 0; i < length; i++) {
    const [lo, hi] = ranges[Math.floor(random() * ranges.length)];
    out += random() < 0.15 ? ' ' : String.fromCodePoint(lo + Math.floor(random() * (hi - lo + 1)));
  }
  return out;
}

describe('seoFilename properties', () => {
  it('is URL-safe, bounded, deterministic, without double hyphens or repeated words, for random Unicode input', () => {
    const random = seededRandom(42);
    for (let n = 0; n < 5000; n++) {
      const input = {
        imageId: randomText(random),
        format: FORMATS[n % FORMATS.length],
        hotelName: random() < 0.9 ? randomText(random) : undefined,
        city: random() < 0.7 ? randomText(random) : undefined,
        tags: Array.from({ length: Math.floor(random() * 6) }, () => randomText(random)),
        maxLength: random() < 0.5 ? undefined : MIN_MAX_LENGTH + Math.floor(random() * 100),
      };
      const name = seoFilename(input);
      expect(name).toMatch(URL_SAFE);
      expect(name).not.toContain('--');
      expect(stem(name).length).toBeLessThanOrEqual(input.maxLength ?? 80);
      expect(new Set(words(name)).size).toBe(words(name).length);
      expect(seoFilename(input)).toBe(name);
    }
  });

  it('gives 1M images with identical hotel, city and tags 1M distinct names', () => {
    const names = new Set<string>();
    const input = { format: 'jpeg' as const, hotelName: 'Hotel Miramar', city: 'Barcelona', tags: ['sea-view', 'double-room', 'balcony'] };
    for (let i = 0; i < 1_000_000; i++) names.add(seoFilename({ ...input, imageId: `img-${i}` }));
    expect(names.size).toBe(1_000_000);
  });
});
