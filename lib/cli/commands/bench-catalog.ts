import * as path from 'node:path';
import { CATALOG_BENCH_DEFAULTS, CATALOG_BENCH_SECTIONS, type CatalogBenchSection, runCatalogBench } from '../../../bench/catalog';
import { EXPORT_FORMATS, type ExportFormat } from '../../core/catalog/export';
import { type CliCommand, intOpt, stringOpt } from '../command';

export const command: CliCommand = {
  name: 'bench catalog',
  summary: 'Benchmark re-tag (rows/s, ≥ 80 labels), export (rows/s and peak RSS per format) and dupes (time, recall) on synthetic stores; prints JSON',
  usage: [
    'vista bench catalog [--rows N,N,…] [--dim D] [--labels L] [--shard-rows N] [--dir DIR] [--sections export,retag,dupes] [--export-formats F,F] [--dupes-sample N]',
    '',
    `  --rows N,N        store sizes, each built, measured and deleted (default ${CATALOG_BENCH_DEFAULTS.rows.join(',')})`,
    `  --dim D           embedding width (default ${CATALOG_BENCH_DEFAULTS.dim})`,
    `  --labels L        tags of the synthetic taxonomy (default ${CATALOG_BENCH_DEFAULTS.labels})`,
    `  --shard-rows N    rows per shard = per re-tag unit (default ${CATALOG_BENCH_DEFAULTS.shardRows})`,
    '  --dir DIR         work folder (default .vista/bench/catalog)',
    `  --sections S,S    what to measure (default ${CATALOG_BENCH_SECTIONS.join(',')})`,
    `  --export-formats F,F  export formats measured, each in its own process (default ${EXPORT_FORMATS.join(',')})`,
    `  --dupes-sample N  rows of the store on which dupes recall is measured against exhaustive search (default ${CATALOG_BENCH_DEFAULTS.dupesSample})`,
  ].join('\n'),
  options: { rows: { type: 'string' }, dim: { type: 'string' }, labels: { type: 'string' }, 'shard-rows': { type: 'string' }, dir: { type: 'string' }, sections: { type: 'string' }, 'dupes-sample': { type: 'string' }, 'export-formats': { type: 'string' } },
  async run(values) {
    const rows = (stringOpt(values, 'rows') ?? CATALOG_BENCH_DEFAULTS.rows.join(',')).split(',').map(Number);
    if (rows.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--rows must be positive integers, comma-separated');
    const sections = (stringOpt(values, 'sections') ?? CATALOG_BENCH_SECTIONS.join(',')).split(',') as CatalogBenchSection[];
    if (sections.some((s) => !CATALOG_BENCH_SECTIONS.includes(s))) throw new Error(`--sections must be among ${CATALOG_BENCH_SECTIONS.join(',')}`);
    const exportFormats = (stringOpt(values, 'export-formats') ?? EXPORT_FORMATS.join(',')).split(',') as ExportFormat[];
    if (exportFormats.some((f) => !EXPORT_FORMATS.includes(f))) throw new Error(`--export-formats must be among ${EXPORT_FORMATS.join(',')}`);
    const result = await runCatalogBench({
      sections,
      exportFormats,
      dupesSample: intOpt(values, 'dupes-sample', CATALOG_BENCH_DEFAULTS.dupesSample),
      rows,
      dim: intOpt(values, 'dim', CATALOG_BENCH_DEFAULTS.dim)!,
      labels: intOpt(values, 'labels', CATALOG_BENCH_DEFAULTS.labels)!,
      shardRows: intOpt(values, 'shard-rows', CATALOG_BENCH_DEFAULTS.shardRows)!,
      workDir: path.resolve(stringOpt(values, 'dir', '.vista/bench/catalog')),
      log: (m) => process.stderr.write(`[bench catalog] ${m}\n`),
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};
