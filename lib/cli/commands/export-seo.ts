import { imagesTable } from '../../core/catalog/scan';
import { exportSeo } from '../../core/catalog/seo-export';
import { openStore } from '../../core/store/connect';
import { type CliCommand, stringOpt } from '../command';

const USAGE = [
  'vista export seo --db DIR|s3://… --base-url URL --out DIR [--page-url TEMPLATE] [--sitemaps-url URL] [--where SQL]',
  '',
  '  --base-url URL      where images are served under their SEO filename: <URL>/<seo_filename>',
  '  --out DIR           writes DIR/rename-map.csv and DIR/sitemaps/ (sitemap-NNNNN.xml, sitemap-index.xml)',
  '  --page-url T        page of a hotel, {hotel_id} replaced (default <base-url>/hotels/{hotel_id})',
  '  --sitemaps-url URL  where DIR/sitemaps will be served, for the index (default <base-url>/sitemaps)',
  '  --where SQL         LanceDB filter on the rows exported',
  '',
  'rename-map.csv: source_uri,image_id,hotel_id,seo_filename, for CDN rewrites and 301 redirects.',
  'Sitemaps follow sitemaps.org and Google\'s image extension: ≤ 50,000 URLs and ≤ 50 MiB per file,',
  'images grouped under their hotel\'s page (≤ 1,000 per entry), everything XML-escaped.',
  'Rows without a hotel_id have no page: they are in the rename map but not in the sitemaps.',
].join('\n');

export const command: CliCommand = {
  name: 'export seo',
  summary: 'Rename map (source → SEO filename) for CDN rewrites and 301s, and image sitemaps with an index',
  usage: USAGE,
  options: {
    db: { type: 'string' },
    'base-url': { type: 'string' },
    out: { type: 'string' },
    'page-url': { type: 'string' },
    'sitemaps-url': { type: 'string' },
    where: { type: 'string' },
  },
  async run(values) {
    const db = stringOpt(values, 'db');
    const baseUrl = stringOpt(values, 'base-url');
    const outDir = stringOpt(values, 'out');
    if (!db || !baseUrl || !outDir) {
      console.error(`vista export seo: give --db, --base-url and --out\n\n${USAGE}`);
      return 2;
    }
    if (!/^https?:\/\/[^/]+/.test(baseUrl)) {
      console.error(`vista export seo: --base-url must be an absolute http(s) URL, got ${baseUrl}`);
      return 2;
    }
    const store = await openStore(db);
    try {
      const report = await exportSeo(await imagesTable(store), {
        baseUrl,
        outDir,
        pageUrlTemplate: stringOpt(values, 'page-url'),
        sitemapsUrl: stringOpt(values, 'sitemaps-url'),
        where: stringOpt(values, 'where'),
      });
      console.log(JSON.stringify({ ...report, sitemaps: { ...report.sitemaps, files: report.sitemaps.files.length } }));
      return 0;
    } finally {
      store.close();
    }
  },
};
