/**
 * Identifies a file from its first bytes, never from its name. Pure and cheap: it runs before any
 * decoder sees the bytes, so that formats we refuse never reach libvips at all.
 */
import type { ImageFormat } from '../types';

export type SniffResult =
  | { kind: 'image'; format: ImageFormat }
  /** A known format we refuse on purpose (vector or document formats, codecs sharp cannot decode). */
  | { kind: 'refused'; format: RefusedFormat }
  /** Not an image: text, markup, other binaries. */
  | { kind: 'not-image'; what: 'empty' | 'html' | 'xml' | 'text' | 'unknown' };

export type RefusedFormat = 'svg' | 'pdf' | 'postscript' | 'heic' | 'jxl' | 'jp2' | 'bmp' | 'ico' | 'psd';

/** How much of the file the sniffer looks at (markup may start with a long comment or doctype). */
export const SNIFF_BYTES = 4096;

function startsWith(bytes: Uint8Array, signature: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + signature.length) return false;
  for (let i = 0; i < signature.length; i++) if (bytes[offset + i] !== signature[i]) return false;
  return true;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, Math.max(0, Math.min(end, bytes.length) - start)).toString('latin1');
}

const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIF_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs', 'mif1', 'msf1', 'mif2']);

/** ISO-BMFF (`ftyp` box): AVIF if any brand says so, otherwise HEIF/HEIC, otherwise not an image (video). */
function sniffFtyp(bytes: Uint8Array): SniffResult | undefined {
  if (ascii(bytes, 4, 8) !== 'ftyp') return undefined;
  const boxSize = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readUInt32BE(0);
  const end = Math.min(bytes.length, Math.max(16, boxSize));
  const brands = [ascii(bytes, 8, 12)];
  for (let offset = 16; offset + 4 <= end; offset += 4) brands.push(ascii(bytes, offset, offset + 4));
  if (brands.some((b) => AVIF_BRANDS.has(b))) return { kind: 'image', format: 'avif' };
  if (brands.some((b) => HEIF_BRANDS.has(b))) return { kind: 'refused', format: 'heic' };
  return { kind: 'not-image', what: 'unknown' };
}

function sniffBmp(bytes: Uint8Array): boolean {
  if (!startsWith(bytes, [0x42, 0x4d]) || bytes.length < 18) return false;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  // Reserved words are zero and the DIB header has one of the known sizes: "BM" alone is too weak.
  return view.readUInt32LE(6) === 0 && [12, 40, 52, 56, 64, 108, 124].includes(view.readUInt32LE(14));
}

/** Markup: SVG (refused) versus HTML and other XML (not images), by the first element. */
function sniffMarkup(head: string): SniffResult | undefined {
  const text = head.replace(/^\uFEFF/, '').replace(/^\u00EF\u00BB\u00BF/, '').trimStart().toLowerCase();
  if (!text.startsWith('<')) return undefined;
  if (/^<!doctype\s+html/.test(text)) return { kind: 'not-image', what: 'html' };
  if (/^<!doctype\s+svg/.test(text)) return { kind: 'refused', format: 'svg' };
  const body = text.replace(/<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<![^>]*>/g, '').trimStart();
  const element = /^<([a-z][\w.-]*:)?([a-z][\w.-]*)/.exec(body);
  if (!element) return text.startsWith('<?xml') ? { kind: 'not-image', what: 'xml' } : undefined;
  const name = element[2];
  if (name === 'svg') return { kind: 'refused', format: 'svg' };
  if (['html', 'head', 'body', 'script', 'div', 'p', 'meta', 'title'].includes(name)) return { kind: 'not-image', what: 'html' };
  return { kind: 'not-image', what: text.startsWith('<?xml') ? 'xml' : 'text' };
}

/** Valid UTF-8 without control characters: good enough to tell text from binary in an error message. */
function looksLikeText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 512);
  for (const b of head) if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return true;
  } catch {
    return false;
  }
}

export function sniffFormat(bytes: Uint8Array): SniffResult {
  if (bytes.length === 0) return { kind: 'not-image', what: 'empty' };
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { kind: 'image', format: 'jpeg' };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { kind: 'image', format: 'png' };
  const first6 = ascii(bytes, 0, 6);
  if (first6 === 'GIF87a' || first6 === 'GIF89a') return { kind: 'image', format: 'gif' };
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return { kind: 'image', format: 'webp' };
  // Classic TIFF (42) and BigTIFF (43), little- and big-endian.
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return { kind: 'image', format: 'tiff' };
  if (startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) return { kind: 'image', format: 'tiff' };
  const ftyp = sniffFtyp(bytes);
  if (ftyp) return ftyp;

  if (ascii(bytes, 0, 5) === '%PDF-') return { kind: 'refused', format: 'pdf' };
  if (ascii(bytes, 0, 4) === '%!PS' || startsWith(bytes, [0xc5, 0xd0, 0xd3, 0xc6])) return { kind: 'refused', format: 'postscript' };
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a])) {
    return { kind: 'refused', format: 'jxl' };
  }
  if (startsWith(bytes, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a]) || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) {
    return { kind: 'refused', format: 'jp2' };
  }
  if (ascii(bytes, 0, 4) === '8BPS') return { kind: 'refused', format: 'psd' };
  if (sniffBmp(bytes)) return { kind: 'refused', format: 'bmp' };
  if (startsWith(bytes, [0, 0, 1, 0]) && bytes.length >= 6 && bytes[4] + bytes[5] > 0) return { kind: 'refused', format: 'ico' };

  const markup = sniffMarkup(ascii(bytes, 0, SNIFF_BYTES));
  if (markup) return markup;
  return { kind: 'not-image', what: looksLikeText(bytes) ? 'text' : 'unknown' };
}
