/**
 * Image sitemaps per sitemaps.org with Google's image extension: `<url>` entries (a page and the
 * images on it) split into files of at most 50,000 URLs and 50 MiB uncompressed, plus a sitemap
 * index listing the files. All text is XML-escaped; URLs are built from percent-encoded parts.
 */
import * as path from 'node:path';
import { type OutputFile, openOutputFile } from '../io/output-file';

export const SITEMAP_LIMITS = {
  /** sitemaps.org: URLs per sitemap file, and sitemaps per index file. */
  urlsPerFile: 50_000,
  /** sitemaps.org: uncompressed bytes per file (50 MiB). */
  bytesPerFile: 52_428_800,
  /** Google: images per page entry. */
  imagesPerUrl: 1_000,
} as const;

export type SitemapLimits = { -readonly [K in keyof typeof SITEMAP_LIMITS]: number };

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const HEADER =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">\n';
const FOOTER = '</urlset>\n';

function urlEntry(page: string, images: string[]): string {
  const body = images.map((image) => `<image:image><image:loc>${xmlEscape(image)}</image:loc></image:image>`).join('');
  return `<url><loc>${xmlEscape(page)}</loc>${body}</url>\n`;
}

export interface SitemapWriterOptions {
  /** Folder for sitemap-NNNNN.xml and sitemap-index.xml. */
  dir: string;
  /** Public URL of `dir` (where the sitemap files will be served), for the index. */
  publicUrl: string;
  limits?: Partial<SitemapLimits>;
}

export interface SitemapReport {
  files: string[];
  urls: number;
  images: number;
  index: string;
}

/**
 * Feed images page by page (`add(page, image)`); consecutive images of one page share a `<url>`
 * entry. `finish()` closes the last file and writes the index last.
 */
export function sitemapWriter(options: SitemapWriterOptions) {
  const limits: SitemapLimits = { ...SITEMAP_LIMITS, ...options.limits };
  const files: string[] = [];
  let file: OutputFile | undefined;
  let urlsInFile = 0;
  let urls = 0;
  let images = 0;
  let page: string | undefined;
  let pending: string[] = [];

  const closeFile = async () => {
    if (!file) return;
    await file.write(FOOTER);
    await file.commit();
    file = undefined;
  };
  const flushEntry = async () => {
    if (page === undefined || pending.length === 0) return;
    const entry = urlEntry(page, pending);
    const entryBytes = Buffer.byteLength(entry);
    if (Buffer.byteLength(HEADER) + entryBytes + Buffer.byteLength(FOOTER) > limits.bytesPerFile) {
      throw new Error(`one sitemap entry (${page}) is larger than the ${limits.bytesPerFile}-byte file limit`);
    }
    if (file && (urlsInFile + 1 > limits.urlsPerFile || file.bytes + entryBytes + Buffer.byteLength(FOOTER) > limits.bytesPerFile)) await closeFile();
    if (!file) {
      const name = `sitemap-${String(files.length + 1).padStart(5, '0')}.xml`;
      files.push(name);
      file = await openOutputFile(path.join(options.dir, name));
      await file.write(HEADER);
      urlsInFile = 0;
    }
    await file.write(entry);
    urlsInFile++;
    urls++;
    pending = [];
  };

  return {
    async add(pageUrl: string, imageUrl: string): Promise<void> {
      if (pageUrl !== page || pending.length >= limits.imagesPerUrl) {
        await flushEntry();
        page = pageUrl;
      }
      pending.push(imageUrl);
      images++;
    },
    async finish(): Promise<SitemapReport> {
      await flushEntry();
      await closeFile();
      if (files.length > limits.urlsPerFile) throw new Error(`${files.length} sitemap files exceed one index's ${limits.urlsPerFile}`);
      const base = options.publicUrl.replace(/\/+$/, '');
      const index = await openOutputFile(path.join(options.dir, 'sitemap-index.xml'));
      await index.write('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n');
      for (const name of files) await index.write(`<sitemap><loc>${xmlEscape(`${base}/${name}`)}</loc></sitemap>\n`);
      await index.write('</sitemapindex>\n');
      await index.commit();
      return { files, urls, images, index: 'sitemap-index.xml' };
    },
  };
}
