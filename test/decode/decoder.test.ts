import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { makeDecoder, type Decoder } from '../../lib/core/decode';
import { ImageErrorCode, VistaError } from '../../lib/core/errors';
import type { DecodedImage, PreprocessSpec } from '../../lib/core/types';
import { ORIENTED_QUADRANTS, writeFixtureImages, type FixtureImage } from '../support/fixtures';

const CLIP: PreprocessSpec = {
  resizeShortestEdge: 224,
  cropSize: 224,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
  resample: 'cubic',
};
/** One step of 8-bit quantization, in normalized units, per channel. */
const STEP = CLIP.std.map((s) => 1 / 255 / s);

const normalized = (value: number, channel: number, spec = CLIP): number => (value / 255 - spec.mean[channel]) / spec.std[channel];
/** Back to 0–255 from the tensor, for readable assertions. */
function rgbAt(image: DecodedImage, x: number, y: number, spec = CLIP): number[] {
  const n = spec.cropSize * spec.cropSize;
  return [0, 1, 2].map((c) => (image.pixels[c * n + y * spec.cropSize + x] * spec.std[c] + spec.mean[c]) * 255);
}
function expectColor(actual: number[], expected: readonly number[], tolerance: number): void {
  actual.forEach((v, c) => expect(Math.abs(v - expected[c])).toBeLessThanOrEqual(tolerance));
}
async function decodeError(decoder: Decoder, bytes: Buffer): Promise<VistaError> {
  const err = await decoder.decode(bytes).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(VistaError);
  return err as VistaError;
}
const solid = (width: number, height: number, rgb: number[]) =>
  sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });

let dir: string;
let fixtures: FixtureImage[];
let decoder: Decoder;
const fixture = (name: string) => fs.readFile(fixtures.find((f) => f.name === name)!.path);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-decode-'));
  fixtures = await writeFixtureImages(dir);
  decoder = makeDecoder({}, CLIP);
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

describe('decoder on the fixture set', () => {
  it.each(['orientation-6.jpg', 'photo.jpg', 'alpha.png', 'deep-16bit.png', 'grayscale.jpg', 'cmyk.jpg', 'photo.webp', 'animated.webp', 'photo.avif', 'animated.gif', 'photo.tiff', 'png-named-as.jpg', 'empty.jpg', 'truncated.jpg', 'bad-crc.png', 'notes.txt', 'error-page.jpg', 'vector.svg', 'document.pdf', 'bomb.png'])(
    '%s',
    async (name) => {
      const { expect: expected } = fixtures.find((f) => f.name === name)!;
      const bytes = await fixture(name);
      if (!expected.ok) {
        expect((await decodeError(decoder, bytes)).code).toBe(expected.code);
        return;
      }
      const image = await decoder.decode(bytes);
      expect(image).toMatchObject({ format: expected.format, width: expected.width, height: expected.height });
      expect(image.contentSha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(image.pixels).toBeInstanceOf(Float32Array);
      expect(image.pixels).toHaveLength(3 * 224 * 224);
      const plane = 224 * 224;
      let distinct = false;
      for (let c = 0; c < 3; c++) {
        let min = Infinity;
        let max = -Infinity;
        for (let i = c * plane; i < (c + 1) * plane; i++) {
          min = Math.min(min, image.pixels[i]);
          max = Math.max(max, image.pixels[i]);
        }
        expect(min).toBeGreaterThanOrEqual(normalized(0, c) - 1e-5);
        expect(max).toBeLessThanOrEqual(normalized(255, c) + 1e-5);
        distinct ||= max > min;
      }
      expect(distinct).toBe(true); // real content, not a constant
    },
  );

  it('covers every fixture', () => {
    expect(fixtures).toHaveLength(20);
  });

  it('applies EXIF orientation before resizing and cropping', async () => {
    const image = await decoder.decode(await fixture('orientation-6.jpg'));
    const { displayed } = ORIENTED_QUADRANTS;
    expectColor(rgbAt(image, 20, 20), displayed.topLeft, 12);
    expectColor(rgbAt(image, 200, 20), displayed.topRight, 12);
    expectColor(rgbAt(image, 200, 200), displayed.bottomRight, 12);
    expectColor(rgbAt(image, 20, 200), displayed.bottomLeft, 12);
  });

  it('composites transparency onto white', async () => {
    // alpha.png: the left half is fully transparent; 64×48 → 298×224, crop from x=37, edge at x≈112.
    const image = await decoder.decode(await fixture('alpha.png'));
    for (const x of [0, 50, 100]) expectColor(rgbAt(image, x, 100), [255, 255, 255], 0.5);
    expect(rgbAt(image, 180, 100).some((v) => v < 250)).toBe(true);
  });

  it('ends with equal RGB channels for grayscale input', async () => {
    const image = await decoder.decode(await fixture('grayscale.jpg'));
    for (const [x, y] of [[0, 0], [100, 50], [223, 223]]) {
      const [r, g, b] = rgbAt(image, x, y);
      expect(Math.abs(r - g)).toBeLessThan(0.5);
      expect(Math.abs(g - b)).toBeLessThan(0.5);
    }
  });

  it('reads a 16-bit PNG to the same pixels as its 8-bit twin', async () => {
    const deep = await decoder.decode(await fixture('deep-16bit.png'));
    const shallow = await decoder.decode(await fixture('png-named-as.jpg'));
    // Resampling in 16 bits rounds differently: ±1 step typically, never more than 2.
    const plane = 224 * 224;
    let totalSteps = 0;
    let maxSteps = 0;
    for (let i = 0; i < deep.pixels.length; i++) {
      const steps = Math.abs(deep.pixels[i] - shallow.pixels[i]) / STEP[Math.floor(i / plane)];
      maxSteps = Math.max(maxSteps, steps);
      totalSteps += steps;
    }
    expect(maxSteps).toBeLessThanOrEqual(2.001);
    expect(totalSteps / deep.pixels.length).toBeLessThan(0.5);
  });

  it.each(['animated.gif', 'animated.webp'])('reads only the first frame of %s', async (name) => {
    const image = await decoder.decode(await fixture(name));
    for (const [x, y] of [[0, 0], [112, 112], [223, 223]]) expect(rgbAt(image, x, y)[0]).toBeLessThan(8);
  });

  it('rejects the decompression bomb from its header, before decoding', async () => {
    const err = await decodeError(decoder, await fixture('bomb.png'));
    expect(err.code).toBe(ImageErrorCode.TOO_MANY_PIXELS);
    expect(err.details).toMatchObject({ stage: 'header', width: 30_000, height: 30_000 });
  });
});

describe('decoder preprocessing against an independent reference', () => {
  it('turns a solid colour into exactly its normalized constant', async () => {
    const color = [200, 30, 90];
    const image = await decoder.decode(await solid(301, 203, color).png().toBuffer());
    const plane = 224 * 224;
    for (let c = 0; c < 3; c++) {
      const want = normalized(color[c], c);
      for (let i = c * plane; i < (c + 1) * plane; i++) {
        if (Math.abs(image.pixels[i] - want) > 1e-5) throw new Error(`channel ${c} index ${i}: ${image.pixels[i]} ≠ ${want}`);
      }
    }
  });

  it('crops the centre after resizing the shortest edge (left-quarter red image)', async () => {
    // 400×300: red for x < 100, blue after. Resized to 298×224 the edge is at x = 74.5; the
    // centred crop starts at x = 37, so the edge lands at x = 37.5 in the crop.
    const raw = Buffer.alloc(400 * 300 * 3);
    for (let i = 0; i < 400 * 300; i++) raw.set(i % 400 < 100 ? [255, 0, 0] : [0, 0, 255], i * 3);
    const image = await decoder.decode(await sharp(raw, { raw: { width: 400, height: 300, channels: 3 } }).png().toBuffer());
    for (const y of [0, 111, 223]) {
      for (const x of [0, 20, 34]) expectColor(rgbAt(image, x, y), [255, 0, 0], 1);
      for (const x of [41, 120, 223]) expectColor(rgbAt(image, x, y), [0, 0, 255], 1);
      expect(rgbAt(image, 37, y)[0]).toBeGreaterThan(60);
      expect(rgbAt(image, 38, y)[2]).toBeGreaterThan(60);
    }
  });

  it('handles resize edge larger than the crop (border cropped away)', async () => {
    // 400×400 white with an 18 px red frame: at 256 px the frame is 11.5 px wide and the centred
    // 224 crop (offset 16) removes it entirely. A single cover-resize to 224 would keep 10 px of it.
    const spec: PreprocessSpec = { ...CLIP, resizeShortestEdge: 256, cropSize: 224 };
    const frame = await solid(364, 364, [255, 255, 255])
      .extend({ top: 18, bottom: 18, left: 18, right: 18, background: { r: 255, g: 0, b: 0 } })
      .png()
      .toBuffer();
    const image = await makeDecoder({}, spec).decode(frame);
    for (const [x, y] of [[1, 1], [0, 112], [223, 223], [112, 0], [112, 112]]) {
      expectColor(rgbAt(image, x, y, spec), [255, 255, 255], 3);
    }
  });

  it('pads with black when the crop is larger than the resized image', async () => {
    const spec: PreprocessSpec = { ...CLIP, resizeShortestEdge: 200, cropSize: 224 };
    const image = await makeDecoder({}, spec).decode(await solid(100, 100, [255, 255, 255]).png().toBuffer());
    expect(image.pixels).toHaveLength(3 * 224 * 224);
    for (const [x, y] of [[0, 0], [11, 112], [112, 223]]) expectColor(rgbAt(image, x, y, spec), [0, 0, 0], 0.5);
    for (const [x, y] of [[12, 12], [112, 112], [211, 211]]) expectColor(rgbAt(image, x, y, spec), [255, 255, 255], 0.5);
  });
});

describe('decoder limits and safety', () => {
  it('refuses images over a configured pixel limit and over the byte cap', async () => {
    const bytes = await fixture('photo.jpg'); // 320×240
    expect((await decodeError(makeDecoder({ maxPixels: 320 * 240 - 1 }, CLIP), bytes)).code).toBe(ImageErrorCode.TOO_MANY_PIXELS);
    await expect(makeDecoder({ maxPixels: 320 * 240 }, CLIP).decode(bytes)).resolves.toMatchObject({ width: 320 });
    expect((await decodeError(makeDecoder({ maxBytes: bytes.length - 1 }, CLIP), bytes)).code).toBe(ImageErrorCode.TOO_LARGE);
  });

  it('turns an impossible resize (a 1×9,000,000 strip under the pixel limit) into a typed error', async () => {
    const strip = await sharp({ create: { width: 1, height: 9_000_000, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toBuffer();
    const err = await decodeError(makeDecoder({}, CLIP), strip);
    expect(err).toBeInstanceOf(VistaError);
    expect(err.code).toBe(ImageErrorCode.CORRUPT_IMAGE);
  });

  it('blocks the libvips loaders of refused formats process-wide, even for direct sharp calls', async () => {
    makeDecoder({}, CLIP);
    const svg = await fixture('vector.svg');
    await expect(sharp(svg).metadata()).rejects.toThrow(/unsupported image format/);
    await expect(sharp(await fixture('photo.webp')).metadata()).resolves.toMatchObject({ format: 'webp' });
  });

  it('refuses recoverable damage by default and accepts it when failOn is relaxed', async () => {
    const truncated = await fixture('truncated.jpg');
    expect((await decodeError(decoder, truncated)).code).toBe(ImageErrorCode.CORRUPT_IMAGE);
    expect((await decodeError(makeDecoder({ failOn: 'truncated' }, CLIP), truncated)).code).toBe(ImageErrorCode.CORRUPT_IMAGE);
    await expect(makeDecoder({ failOn: 'none' }, CLIP).decode(truncated)).resolves.toMatchObject({ width: 320, height: 240 });
  });

  it('rejects invalid configuration', () => {
    expect(() => makeDecoder({ maxPixels: -1 }, CLIP)).toThrow(VistaError);
  });

  it('gives the same tensors when many decodes run at once', async () => {
    const names = ['photo.jpg', 'cmyk.jpg', 'photo.avif', 'alpha.png', 'animated.gif'];
    const inputs = await Promise.all(names.map(fixture));
    const sequential: DecodedImage[] = [];
    for (const bytes of inputs) sequential.push(await decoder.decode(bytes));
    const parallel = await Promise.all([...inputs, ...inputs].map((bytes) => decoder.decode(bytes)));
    // Byte comparison: jest's deep equality is very slow on 150k-element typed arrays.
    const bytesOf = (image: DecodedImage) => Buffer.from(image.pixels.buffer, image.pixels.byteOffset, image.pixels.byteLength);
    parallel.forEach((image, i) => expect(bytesOf(image).equals(bytesOf(sequential[i % names.length]))).toBe(true));
  });
});
