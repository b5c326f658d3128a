import { EXPORT_FORMATS, type ExportFormat, exportImages } from '../../core/catalog/export';
import { imagesTable } from '../../core/catalog/scan';
import { openStore } from '../../core/store/connect';
import { type CliCommand, stringOpt } from '../command';

const USAGE = [
  'vista export --db DIR|s3://… --format parquet|csv|jsonl --out FILE [--where SQL] [--columns a,b,…] [--with-embedding]',
  '',
  '  --db URI            LanceDB database (local folder or s3://bucket/prefix)',
  '  --format F          parquet (Arrow types kept, Snappy, row groups of 65,536 rows),',
  '                      csv (RFC 4180, header line) or jsonl (one JSON object per line)',
  '  --out FILE          local file; written under a temporary name, renamed when complete',
  "  --where SQL         LanceDB filter, e.g. \"hotel_id = 'h-42'\" or \"array_has(tags, 'spa')\"",
  '  --columns a,b       only these columns, in this order (default: all but the embedding)',
  '  --with-embedding    also the embedding (text formats: a JSON array, pgvector\'s text format)',
  '',
  'Streams batch by batch: memory stays flat whatever the catalog size. In CSV and JSON Lines, lists',
  '(tags, tag_scores) are JSON arrays and timestamps ISO 8601 UTC. Loading into Postgres and DuckDB:',
  'docs/catalog.md.',
  'See also: vista export seo (rename map and image sitemaps).',
].join('\n');

export const command: CliCommand = {
  name: 'export',
  summary: 'Stream the images table to Parquet, CSV or JSON Lines (for a metadata store: Postgres, DuckDB)',
  usage: USAGE,
  options: {
    db: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    where: { type: 'string' },
    columns: { type: 'string' },
    'with-embedding': { type: 'boolean' },
  },
  async run(values) {
    const db = stringOpt(values, 'db');
    const out = stringOpt(values, 'out');
    const format = stringOpt(values, 'format');
    if (!db || !out || !EXPORT_FORMATS.includes(format as ExportFormat)) {
      console.error(`vista export: give --db, --out and --format ${EXPORT_FORMATS.join('|')}\n\n${USAGE}`);
      return 2;
    }
    const store = await openStore(db);
    try {
      const report = await exportImages(await imagesTable(store), {
        format: format as ExportFormat,
        out,
        where: stringOpt(values, 'where'),
        withEmbedding: values['with-embedding'] === true,
        columns: stringOpt(values, 'columns')?.split(',').map((c) => c.trim()).filter(Boolean),
        onProgress: (rows) => process.stderr.write(`\r[export] ${rows} rows`),
      });
      process.stderr.write('\n');
      console.log(JSON.stringify(report));
      return 0;
    } finally {
      store.close();
    }
  },
};
