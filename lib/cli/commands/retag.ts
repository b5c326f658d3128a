import * as path from 'node:path';
import { type RetagReport } from '../../core/catalog/retag';
import { runRetag } from '../../core/catalog/retag-run';
import { RANDOM_WEIGHTS_WARNING } from '../../core/pipeline/worker';
import { DEFAULT_ARTIFACTS_DIR, DEFAULT_MODEL_DIR } from '../../core/pipeline/worker-config';
import { type CliCommand, type CliValues, intOpt, stringOpt } from '../command';

const USAGE = [
  'vista retag --db DIR|s3://… --taxonomy T.json [--model DIR] [--rename --out DIR] [--units a,b] [--json]',
  '',
  '  --db URI          LanceDB database holding the images table',
  '  --taxonomy FILE   the new taxonomy (local or s3://)',
  `  --model DIR       the CLIP model the store was embedded with (default ${path.relative(process.cwd(), DEFAULT_MODEL_DIR) || DEFAULT_MODEL_DIR});`,
  '                    only its text tower runs, once, to build the label bank; its id must match the rows\' model_id',
  `  --cache DIR       label bank cache (default ${path.relative(process.cwd(), DEFAULT_ARTIFACTS_DIR) || DEFAULT_ARTIFACTS_DIR})`,
  '  --rename          also rewrite seo_filename from the new tags (changes public URLs: off by default)',
  '  --out DIR         with --rename: DIR/rename-map.csv lists old → new names (and DIR/units/*.csv per unit)',
  '  --units a,b       only these shard_ids',
  '  --partitions N    run 1/N of the shards (by hash): the index is --partition-index I, or',
  '                    AWS_BATCH_JOB_ARRAY_INDEX in a Batch array job (the deployed Retag state machine)',
  '  --json            the report as JSON',
  '',
  'Reads no image: tags and tag_scores are recomputed from each row\'s stored embedding with the',
  'new label bank and the worker\'s scorer; rows record the new taxonomy_id. Shard by shard with a',
  'ledger (table retag_ledger): a rerun resumes, and a finished run is a no-op. Prints per-label',
  'counts before and after.',
].join('\n');

export function formatRetagReport(report: RetagReport): string {
  const lines = [
    `taxonomy ${report.taxonomyId}: ${report.rows} rows in ${report.units} shards (${report.skippedUnits} already done), ${report.renamed} renamed`,
    '',
    `  ${'tag'.padEnd(24)} ${'before'.padStart(9)} ${'after'.padStart(9)}`,
    ...report.labels.map((l) => `  ${l.tag.padEnd(24)} ${String(l.before).padStart(9)} ${String(l.after).padStart(9)}`),
  ];
  if (report.renameMap) lines.push('', `rename map: ${report.renameMap}`);
  return lines.join('\n');
}

function partitionOf(values: CliValues): { index: number; count: number } | undefined {
  const count = intOpt(values, 'partitions');
  if (count === undefined) return undefined;
  const fromEnv = process.env.AWS_BATCH_JOB_ARRAY_INDEX;
  const index = intOpt(values, 'partition-index', fromEnv === undefined ? (count === 1 ? 0 : undefined) : Number(fromEnv));
  if (index === undefined) throw new Error('--partitions needs --partition-index or AWS_BATCH_JOB_ARRAY_INDEX');
  return { index, count };
}

export const command: CliCommand = {
  name: 'retag',
  summary: 'Re-tag the catalog from its stored embeddings with a new taxonomy (no image read); resumable',
  usage: USAGE,
  options: {
    db: { type: 'string' },
    taxonomy: { type: 'string' },
    model: { type: 'string' },
    cache: { type: 'string' },
    rename: { type: 'boolean' },
    out: { type: 'string' },
    units: { type: 'string' },
    partitions: { type: 'string' },
    'partition-index': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values) {
    const db = stringOpt(values, 'db');
    const taxonomy = stringOpt(values, 'taxonomy');
    const rename = values.rename === true;
    const out = stringOpt(values, 'out');
    if (!db || !taxonomy || (rename && !out)) {
      console.error(`vista retag: give --db and --taxonomy (and --out with --rename)\n\n${USAGE}`);
      return 2;
    }
    const report = await runRetag({
      db,
      taxonomy,
      model: stringOpt(values, 'model', DEFAULT_MODEL_DIR),
      cache: stringOpt(values, 'cache', DEFAULT_ARTIFACTS_DIR),
      rename,
      renameDir: out,
      units: stringOpt(values, 'units')?.split(',').map((u) => u.trim()).filter(Boolean),
      partition: partitionOf(values),
      onUnit: (p) => process.stderr.write(`[retag] ${p.done}/${p.total} ${p.unit}: ${p.rows} rows${p.skipped ? ' (already done)' : ''}\n`),
    });
    if (report.randomWeights) console.error(RANDOM_WEIGHTS_WARNING);
    console.log(values.json === true ? JSON.stringify(report, null, 2) : formatRetagReport(report));
    return 0;
  },
};
