/**
 * Process-wide libvips settings that the decoder depends on.
 *
 * Loaders are allow-listed rather than deny-listed: every libvips loader is blocked, then only
 * those of the formats we accept are unblocked. A libvips build with a new loader (or one of
 * magick, pdfium, openslide, jxl…) therefore cannot widen the attack surface by surprise.
 * Blocked loaders are skipped when libvips looks for a loader, so e.g. an UltraHDR JPEG is read
 * by the plain JPEG loader and an SVG fails as "unsupported image format". sharp's own `raw`,
 * `create` and `text` inputs are not loaders and keep working for other code in the process.
 */
import sharp from 'sharp';

/** Parent classes: unblocking one unblocks its Buffer, File and Source variants. */
export const ALLOWED_LOADERS = [
  'VipsForeignLoadJpeg',
  'VipsForeignLoadPng',
  'VipsForeignLoadWebp',
  'VipsForeignLoadHeif',
  'VipsForeignLoadNsgif',
  'VipsForeignLoadTiff',
] as const;

let loadersRestricted = false;

export function restrictVipsLoaders(): void {
  if (loadersRestricted) return;
  sharp.block({ operation: ['VipsForeignLoad'] });
  sharp.unblock({ operation: [...ALLOWED_LOADERS] });
  loadersRestricted = true;
}

/**
 * Threads libvips uses inside one image operation (0 = libvips' default, one per core).
 * Process-wide: the last decoder made wins. Parallelism across images comes from running several
 * decodes at once, each on a libuv threadpool thread, so UV_THREADPOOL_SIZE must be at least the
 * number of cores (the pipeline sets it before anything touches the pool); see DecoderConfig.
 */
export function setVipsThreads(threads: number): void {
  sharp.concurrency(threads);
  // Every image is decoded once: libvips' operation cache would only hold memory and take a
  // global lock on every operation, which shows when dozens of decodes run at once.
  sharp.cache(false);
}
