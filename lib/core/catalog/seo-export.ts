/**
 * `vista export seo`: what a CDN and a search engine need to serve the catalog under its SEO
 * filenames:
 *   - rename-map.csv (source_uri, image_id, hotel_id, seo_filename) for CDN rewrites and 301s;
 *   - sitemaps/: image sitemaps and their index (sitemap.ts).
 * Image URL: `<base-url>/<seo_filename>`; page URL: the `--page-url` template filled with the
 * row's hotel_id (percent-encoded). Rows without a hotel have no page and stay out of the sitemaps.
 */
import type * as lancedb from '@lancedb/lancedb';
import type { Vector } from 'apache-arrow';
import * as path from 'node:path';
import { ResultColumn as C } from '../pipeline/schema';
import { openOutputFile } from '../io/output-file';
import { csvField } from './csv-field';
import { scanBatches } from './scan';
import { type SitemapLimits, type SitemapReport, sitemapWriter } from './sitemap';

export const RENAME_MAP_COLUMNS = [C.sourceUri, C.imageId, C.hotelId, C.seoFilename] as const;

export interface SeoExportOptions {
  /** Public base URL the images are served under by their SEO filename. */
  baseUrl: string;
  /** Output folder: rename-map.csv, sitemaps/. */
  outDir: string;
  /** Page URL of a hotel; `{hotel_id}` is replaced. @default `<base-url>/hotels/{hotel_id}` */
  pageUrlTemplate?: string;
  /** Public URL of outDir/sitemaps for the index. @default `<base-url>/sitemaps` */
  sitemapsUrl?: string;
  where?: string;
  limits?: Partial<SitemapLimits>;
  batchRows?: number;
}

export interface SeoExportReport {
  rows: number;
  renameMap: string;
  sitemaps: SitemapReport;
  /** Rows with no hotel, hence no page for the sitemap. */
  withoutPage: number;
}

export function imageUrl(baseUrl: string, seoFilename: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(seoFilename)}`;
}

export function pageUrl(template: string, hotelId: string): string {
  return template.split('{hotel_id}').join(encodeURIComponent(hotelId));
}

/** One rename-map line (RFC 4180). */
export function renameMapLine(sourceUri: string, imageId: string, hotelId: string | null, seoFilename: string): string {
  return `${[sourceUri, imageId, hotelId ?? '', seoFilename].map(csvField).join(',')}\n`;
}

export async function exportSeo(table: lancedb.Table, options: SeoExportOptions): Promise<SeoExportReport> {
  const base = options.baseUrl.replace(/\/+$/, '');
  const template = options.pageUrlTemplate ?? `${base}/hotels/{hotel_id}`;
  const renameMap = await openOutputFile(path.join(options.outDir, 'rename-map.csv'));
  const sitemaps = sitemapWriter({ dir: path.join(options.outDir, 'sitemaps'), publicUrl: options.sitemapsUrl ?? `${base}/sitemaps`, limits: options.limits });
  let rows = 0;
  let withoutPage = 0;
  try {
    await renameMap.write(`${RENAME_MAP_COLUMNS.join(',')}\n`);
    for await (const batch of scanBatches(table, { columns: [...RENAME_MAP_COLUMNS], where: options.where, batchRows: options.batchRows })) {
      const [source, id, hotel, seo] = RENAME_MAP_COLUMNS.map((name) => batch.getChild(name) as Vector);
      let text = '';
      for (let i = 0; i < batch.numRows; i++) {
        const hotelId = hotel.get(i) as string | null;
        const seoFilename = seo.get(i) as string;
        text += renameMapLine(source.get(i) as string, id.get(i) as string, hotelId, seoFilename);
        if (hotelId === null) withoutPage++;
        else await sitemaps.add(pageUrl(template, hotelId), imageUrl(base, seoFilename));
      }
      await renameMap.write(text);
      rows += batch.numRows;
    }
    await renameMap.commit();
  } catch (err) {
    await renameMap.abort();
    throw err;
  }
  return { rows, renameMap: 'rename-map.csv', sitemaps: await sitemaps.finish(), withoutPage };
}
