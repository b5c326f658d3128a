/**
 * Test images generated on the fly (never committed): a set of good images in every accepted
 * format and the awkward variants of each (EXIF rotation, alpha, 16-bit, grayscale, CMYK,
 * animation), broken files with the outcome the decoder must report, and photo-like JPEGs for
 * benchmarks. Everything is deterministic.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { ImageErrorCode } from '../../lib/core/errors';
import { seededRandom } from '../../lib/core/random';
import type { ImageFormat } from '../../lib/core/types';

export type FixtureExpectation =
  /** width/height: the size after EXIF orientation. */
  | { ok: true; format: ImageFormat; width: number; height: number }
  | { ok: false; code: ImageErrorCode };

export interface FixtureImage {
  name: string;
  path: string;
  expect: FixtureExpectation;
}

/** Stored as 64×48 with four coloured quadrants; EXIF orientation 6 shows it rotated 90° clockwise. */
export const ORIENTED_QUADRANTS = {
  storedWidth: 64,
  storedHeight: 48,
  /** Quadrant colours as displayed (after rotation). */
  displayed: { topLeft: [0, 0, 255], topRight: [255, 0, 0], bottomRight: [0, 255, 0], bottomLeft: [255, 255, 255] },
} as const;

/** A valid PNG header declaring 30000×30000 (900 MP), with real 1-bit image data: ~110 KB on disk. */
export const BOMB_SIZE = 30_000;

export { seededRandom };

/** RGB raw pixels: soft gradients, a few blurry blobs and fine noise, like a photo to a JPEG encoder. */
function photoPixels(width: number, height: number, random: () => number): Buffer {
  const pixels = Buffer.allocUnsafe(width * height * 3);
  const corner = () => [random() * 255, random() * 255, random() * 255];
  const [c00, c10, c01, c11] = [corner(), corner(), corner(), corner()];
  const blobs = Array.from({ length: 6 }, () => ({
    x: random() * width,
    y: random() * height,
    r2: (0.05 + random() * 0.2) ** 2 * width * height,
    color: corner(),
  }));
  let noise = random() * 2 ** 32;
  for (let y = 0; y < height; y++) {
    const v = y / (height - 1);
    for (let x = 0; x < width; x++) {
      const u = x / (width - 1);
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        let value = (1 - v) * ((1 - u) * c00[c] + u * c10[c]) + v * ((1 - u) * c01[c] + u * c11[c]);
        for (const blob of blobs) {
          const d2 = (x - blob.x) ** 2 + (y - blob.y) ** 2;
          if (d2 < blob.r2) value += (blob.color[c] - value) * (1 - d2 / blob.r2) * 0.8;
        }
        noise = (Math.imul(noise, 1664525) + 1013904223) >>> 0;
        value += ((noise >>> 24) - 128) / 6;
        pixels[o + c] = value < 0 ? 0 : value > 255 ? 255 : value;
      }
    }
  }
  return pixels;
}

function quadrantPixels(width: number, height: number, colors: number[][]): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const q = (y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1);
      pixels.set(colors[q], (y * width + x) * 3);
    }
  }
  return pixels;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

let bomb: Promise<Buffer> | undefined;

/** Built once per process: deflating 112 MB of zero rows is the only slow step (~0.2 s). */
export function decompressionBombPng(): Promise<Buffer> {
  bomb ??= (async () => {
    const rowBytes = 1 + BOMB_SIZE / 8; // filter byte + 1 bit per pixel
    const rowsPerChunk = 1000;
    const chunk = Buffer.alloc(rowBytes * rowsPerChunk);
    const deflate = zlib.createDeflate({ level: 9 });
    const parts: Buffer[] = [];
    deflate.on('data', (d: Buffer) => parts.push(d));
    const done = new Promise<void>((resolve, reject) => deflate.on('end', resolve).on('error', reject));
    for (let rows = 0; rows < BOMB_SIZE; rows += rowsPerChunk) {
      if (!deflate.write(chunk)) await new Promise((resolve) => deflate.once('drain', resolve));
    }
    deflate.end();
    await done;
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(BOMB_SIZE, 0);
    ihdr.writeUInt32BE(BOMB_SIZE, 4);
    ihdr[8] = 1; // bit depth
    ihdr[9] = 0; // grayscale
    return Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      pngChunk('IHDR', ihdr),
      pngChunk('IDAT', Buffer.concat(parts)),
      pngChunk('IEND', Buffer.alloc(0)),
    ]);
  })();
  return bomb;
}

const TINY_PDF = `%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >> endobj
trailer << /Root 1 0 R >>
%%EOF
`;

const SVG = `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment before the root element -->
<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="teal"/></svg>
`;

const HTML = `<!DOCTYPE html>
<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>
`;

/** Writes the fixture set into `dir` (created if needed) and says what decoding each must give. */
export async function writeFixtureImages(dir: string): Promise<FixtureImage[]> {
  await fs.mkdir(dir, { recursive: true });
  const w = 64;
  const h = 48;
  const photo = (channels: 3 | 4 = 3) => {
    const rgb = photoPixels(w, h, seededRandom(7));
    if (channels === 3) return sharp(rgb, { raw: { width: w, height: h, channels: 3 } });
    const rgba = Buffer.alloc(w * h * 4);
    for (let i = 0; i < w * h; i++) {
      rgb.copy(rgba, i * 4, i * 3, i * 3 + 3);
      rgba[i * 4 + 3] = i % w < w / 2 ? 0 : 255; // left half fully transparent
    }
    return sharp(rgba, { raw: { width: w, height: h, channels: 4 } });
  };
  const frames = 3;
  const animation = Buffer.alloc(w * h * frames * 4);
  // Frame k has red = 120·k, so a decoder that reads the first frame sees no red at all.
  for (let i = 0; i < w * h * frames; i++) animation.set([Math.floor(i / (w * h)) * 120, (i % w) * 4, 160, 255], i * 4);
  const animated = () => sharp(animation, { raw: { width: w, height: h * frames, channels: 4, pageHeight: h } });
  const { storedWidth, storedHeight, displayed } = ORIENTED_QUADRANTS;
  // Stored quadrants such that rotating 90° clockwise gives `displayed`.
  const stored = [displayed.topRight, displayed.bottomRight, displayed.topLeft, displayed.bottomLeft].map((c) => [...c]);

  const bigJpeg = await sharp(photoPixels(320, 240, seededRandom(11)), { raw: { width: 320, height: 240, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
  const alphaPng = await photo(4).png().toBuffer();
  const badCrc = Buffer.from(alphaPng);
  const idat = badCrc.indexOf('IDAT', 0, 'latin1');
  badCrc[idat + 20] ^= 0xff;

  const ok = (format: ImageFormat, width = w, height = h): FixtureExpectation => ({ ok: true, format, width, height });
  const fail = (code: ImageErrorCode): FixtureExpectation => ({ ok: false, code });
  const entries: Array<[string, Promise<Buffer> | Buffer | string, FixtureExpectation]> = [
    [
      'orientation-6.jpg',
      sharp(quadrantPixels(storedWidth, storedHeight, stored), { raw: { width: storedWidth, height: storedHeight, channels: 3 } })
        .jpeg({ quality: 95 })
        .withMetadata({ orientation: 6 })
        .toBuffer(),
      ok('jpeg', storedHeight, storedWidth),
    ],
    ['photo.jpg', bigJpeg, ok('jpeg', 320, 240)],
    ['alpha.png', alphaPng, ok('png')],
    ['deep-16bit.png', photo().toColourspace('rgb16').png().toBuffer(), ok('png')],
    ['grayscale.jpg', photo().toColourspace('b-w').jpeg().toBuffer(), ok('jpeg')],
    ['cmyk.jpg', photo().toColourspace('cmyk').jpeg().toBuffer(), ok('jpeg')],
    ['photo.webp', photo().webp({ quality: 80 }).toBuffer(), ok('webp')],
    ['animated.webp', animated().webp({ loop: 0 }).toBuffer(), ok('webp')],
    ['photo.avif', photo().avif({ effort: 0 }).toBuffer(), ok('avif')],
    ['animated.gif', animated().gif({ loop: 0, delay: [100, 100, 100] }).toBuffer(), ok('gif')],
    ['photo.tiff', photo().tiff().toBuffer(), ok('tiff')],
    ['png-named-as.jpg', photo().png().toBuffer(), ok('png')],
    ['empty.jpg', Buffer.alloc(0), fail(ImageErrorCode.EMPTY)],
    ['truncated.jpg', bigJpeg.subarray(0, Math.floor(bigJpeg.length / 2)), fail(ImageErrorCode.CORRUPT_IMAGE)],
    ['bad-crc.png', badCrc, fail(ImageErrorCode.CORRUPT_IMAGE)],
    ['notes.txt', 'Ocean view suite, 2 queen beds.\nNo image here.\n', fail(ImageErrorCode.NOT_AN_IMAGE)],
    ['error-page.jpg', HTML, fail(ImageErrorCode.NOT_AN_IMAGE)],
    ['vector.svg', SVG, fail(ImageErrorCode.UNSUPPORTED_FORMAT)],
    ['document.pdf', TINY_PDF, fail(ImageErrorCode.UNSUPPORTED_FORMAT)],
    ['bomb.png', decompressionBombPng(), fail(ImageErrorCode.TOO_MANY_PIXELS)],
  ];
  return Promise.all(
    entries.map(async ([name, content, expect]) => {
      const file = path.join(dir, name);
      await fs.writeFile(file, await content);
      return { name, path: file, expect };
    }),
  );
}

export interface PhotoLikeOptions {
  /** Size of each image, or a [min, max] range drawn per image. @default [1, 2] */
  megapixels?: number | [number, number];
  seed?: number;
  quality?: number;
}

const ASPECTS = [4 / 3, 3 / 2, 16 / 9, 1, 3 / 4, 2 / 3];

/** Writes `count` photo-like JPEGs named photo-00000.jpg… into `dir`; returns their paths in order. */
export async function writePhotoLikeJpegs(dir: string, count: number, options: PhotoLikeOptions = {}): Promise<string[]> {
  const { megapixels = [1, 2], seed = 1, quality = 85 } = options;
  await fs.mkdir(dir, { recursive: true });
  const random = seededRandom(seed);
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const mp = typeof megapixels === 'number' ? megapixels : megapixels[0] + random() * (megapixels[1] - megapixels[0]);
    const aspect = ASPECTS[Math.floor(random() * ASPECTS.length)];
    const width = Math.max(8, Math.round(Math.sqrt(mp * 1e6 * aspect)));
    const height = Math.max(8, Math.round((mp * 1e6) / width));
    const file = path.join(dir, `photo-${String(i).padStart(5, '0')}.jpg`);
    const pixels = photoPixels(width, height, seededRandom(seed * 100_003 + i));
    await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toFile(file);
    files.push(file);
  }
  return files;
}
