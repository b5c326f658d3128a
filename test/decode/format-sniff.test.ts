import { sniffFormat } from '../../lib/core/decode/format-sniff';

const bytes = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

/** An ISO-BMFF `ftyp` box with a major brand and compatible brands. */
function ftyp(major: string, ...compatible: string[]): Buffer {
  const size = 16 + 4 * compatible.length;
  const head = Buffer.alloc(4);
  head.writeUInt32BE(size);
  return bytes([...head], 'ftyp', major, [0, 0, 0, 0], ...compatible, [0, 0, 0, 8], 'meta');
}

describe('sniffFormat', () => {
  it.each([
    ['jpeg', bytes([0xff, 0xd8, 0xff, 0xe0], 'JFIF')],
    ['png', bytes([0x89], 'PNG', [0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13], 'IHDR')],
    ['gif', bytes('GIF89a', [1, 0, 1, 0])],
    ['gif', bytes('GIF87a', [1, 0, 1, 0])],
    ['webp', bytes('RIFF', [0x24, 0, 0, 0], 'WEBPVP8 ')],
    ['tiff', bytes('II', [0x2a, 0], [8, 0, 0, 0])],
    ['tiff', bytes('MM', [0, 0x2a], [0, 0, 0, 8])],
    ['tiff', bytes('II', [0x2b, 0], [8, 0, 0, 0])],
    ['avif', ftyp('avif', 'mif1', 'miaf')],
    ['avif', ftyp('mif1', 'avif', 'miaf')],
  ])('detects %s from its magic bytes', (format, input) => {
    expect(sniffFormat(input)).toEqual({ kind: 'image', format });
  });

  it.each([
    ['heic', ftyp('heic', 'mif1')],
    ['heic', ftyp('mif1', 'heic')],
    ['pdf', bytes('%PDF-1.7\n')],
    ['postscript', bytes('%!PS-Adobe-3.0\n')],
    ['jxl', bytes([0xff, 0x0a, 0xfa])],
    ['jp2', bytes([0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a])],
    ['psd', bytes('8BPS', [0, 1])],
    ['bmp', bytes('BM', [0x46, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 40, 0, 0, 0])],
    ['svg', bytes('<svg xmlns="http://www.w3.org/2000/svg"/>')],
    ['svg', bytes('\uFEFF  <?xml version="1.0"?>\n<!-- drawn by hand -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">\n<svg/>')],
    ['svg', bytes([0xef, 0xbb, 0xbf], '<?xml version="1.0"?><svg:svg xmlns:svg="http://www.w3.org/2000/svg"/>')],
  ])('refuses %s', (format, input) => {
    expect(sniffFormat(input)).toEqual({ kind: 'refused', format });
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['html', bytes('<!DOCTYPE html><html><body><svg></svg></body></html>')],
    ['html', bytes('\n  <html lang="en"><head></head></html>')],
    ['xml', bytes('<?xml version="1.0"?><rss version="2.0"></rss>')],
    ['text', bytes('BMW 3 series parked in front of the hotel')],
    ['text', bytes('{"image": "not really"}')],
    ['unknown', bytes([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3])],
    ['unknown', ftyp('isom', 'iso2', 'mp41')],
  ])('reports %s as not an image', (what, input) => {
    expect(sniffFormat(input)).toEqual({ kind: 'not-image', what });
  });

  it('does not need more than the first bytes of a real file', () => {
    expect(sniffFormat(bytes([0xff, 0xd8, 0xff]))).toEqual({ kind: 'image', format: 'jpeg' });
    expect(sniffFormat(bytes([0xff, 0xd8]))).toEqual({ kind: 'not-image', what: 'unknown' });
  });
});
