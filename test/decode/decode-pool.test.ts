/**
 * The decode pool (worker threads writing into shared pixel slots) against the in-process decoder:
 * the same pixels bit for bit, the same metadata and the same typed error per image.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeDecoder } from '../../lib/core/decode';
import { makeDecodePool, type DecodePool } from '../../lib/core/decode/decode-pool';
import { isShared } from '../../lib/core/decode/pixel-slots';
import { VistaError } from '../../lib/core/errors';
import type { PreprocessSpec } from '../../lib/core/types';
import { writeFixtureImages, writePhotoLikeJpegs, type FixtureImage } from '../support/fixtures';

const CLIP: PreprocessSpec = {
  resizeShortestEdge: 224,
  cropSize: 224,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
  resample: 'cubic',
};

let dir: string;
let fixtures: FixtureImage[];
let pool: DecodePool;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-decode-pool-'));
  fixtures = await writeFixtureImages(dir);
  pool = makeDecodePool({}, CLIP, { threads: 2, slots: 4 });
});
afterAll(async () => {
  await pool.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const outcome = (p: Promise<{ pixels: Float32Array; width: number; height: number; format: string; contentSha256: string; release?: () => void }>) =>
  p.then(
    (image) => {
      const copy = { pixels: Float32Array.from(image.pixels), width: image.width, height: image.height, format: image.format, sha: image.contentSha256 };
      image.release?.();
      return { ok: true as const, ...copy };
    },
    (err: unknown) => ({ ok: false as const, error: err }),
  );

describe('decode pool', () => {
  it('gives the in-process decoder’s pixels bit for bit, and its error codes, on every fixture', async () => {
    const inProcess = makeDecoder({}, CLIP);
    const photos = await writePhotoLikeJpegs(path.join(dir, 'photos'), 6, { megapixels: [0.3, 0.6] });
    const files = [...fixtures.map((f) => f.path), ...photos];
    // All at once: more images than slots, so decodes also wait for slots to come back.
    const [expected, actual] = await Promise.all([
      Promise.all(files.map(async (f) => outcome(inProcess.decode(await fs.readFile(f))))),
      Promise.all(files.map(async (f) => outcome(pool.decode(await fs.readFile(f))))),
    ]);
    let compared = 0;
    files.forEach((file, i) => {
      const [e, a] = [expected[i], actual[i]];
      expect({ file, ok: a.ok }).toEqual({ file, ok: e.ok });
      if (e.ok && a.ok) {
        expect({ ...a, pixels: undefined }).toEqual({ ...e, pixels: undefined });
        expect(Buffer.from(a.pixels.buffer).equals(Buffer.from(e.pixels.buffer))).toBe(true);
        compared++;
      } else if (!e.ok && !a.ok) {
        expect(a.error).toBeInstanceOf(VistaError);
        // Codes must agree. Messages are not compared: libvips keeps one error buffer per process,
        // so the detail text of concurrent failures (here both sides decode at once) can come from
        // another image's failure, on either side ("VipsJpeg: premature end" on a PNG was seen).
        expect({ file, code: (a.error as VistaError).code }).toEqual({ file, code: (e.error as VistaError).code });
      }
    });
    expect(compared).toBeGreaterThanOrEqual(10);
    expect(pool.slots.available).toBe(4);
  });

  it('hands out shared slots and waits for a free one when all are taken', async () => {
    const bytes = await fs.readFile(fixtures.find((f) => f.name === 'photo.jpg')!.path);
    const held = await Promise.all(Array.from({ length: 4 }, () => pool.decode(bytes)));
    held.forEach((image) => expect(isShared(image.pixels)).toBe(true));
    expect(new Set(held.map((image) => image.pixels.byteOffset)).size).toBe(4);
    let fifthDone = false;
    const fifth = pool.decode(bytes).then((image) => {
      fifthDone = true;
      return image;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(fifthDone).toBe(false);
    held[0].release!();
    held[0].release!(); // twice is harmless
    const image = await fifth;
    expect(image.pixels.byteOffset).toBe(held[0].pixels.byteOffset);
    [image, ...held.slice(1)].forEach((i) => i.release!());
    expect(pool.slots.available).toBe(4);
  });
});

describe('decode pool fetchAndDecode: which step failed travels with the error', () => {
  it('names the fetch for a missing file and a source answering 503, the decode for a corrupt file; transient fetches say so', async () => {
    const http = await import('node:http');
    const server = http.createServer((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as { port: number }).port;
    const fetching = makeDecodePool({}, CLIP, { threads: 1, slots: 2, source: { retries: 1, throttleRetries: 1, retryBaseDelayMs: 1, throttleBaseDelayMs: 1 } });
    try {
      const corrupt = path.join(dir, 'corrupt-for-pool.jpg');
      await fs.writeFile(corrupt, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 7)]));
      const details = async (uri: string) => {
        const err = (await outcome(fetching.fetchAndDecode(uri))) as { ok: false; error: VistaError };
        expect(err.ok).toBe(false);
        return { code: err.error.code, stage: err.error.details?.stage, transient: err.error.details?.transient === true };
      };
      expect(await details(path.join(dir, 'no-such-file.jpg'))).toEqual({ code: 'NOT_FOUND', stage: 'fetch', transient: false });
      expect(await details(`http://127.0.0.1:${port}/x.jpg`)).toEqual({ code: 'FETCH_FAILED', stage: 'fetch', transient: true });
      expect(await details(corrupt)).toEqual({ code: 'CORRUPT_IMAGE', stage: 'decode', transient: false });
    } finally {
      await fetching.close();
      server.close();
    }
  });
});
