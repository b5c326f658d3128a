import { DUPES_DEFAULTS, DUPES_SCOPES, type DupesScope, findDupes } from '../../core/catalog/dupes';
import { DUPES_FORMATS, type DupesFormat, writeDupes } from '../../core/catalog/dupes-output';
import { openStore } from '../../core/store/connect';
import { type CliCommand, intOpt, stringOpt } from '../command';

const USAGE = [
  'vista dupes --db DIR|s3://… [--threshold 0.97] [--scope hotel|catalog|both] [--format json|csv] [--out FILE]',
  '            [--neighbours K] [--nprobes N] [--exact]',
  '',
  '  --db URI          LanceDB database (local folder or s3://bucket/prefix)',
  `  --threshold T     cosine similarity for near duplicates (default ${DUPES_DEFAULTS.threshold})`,
  '  --scope S         hotel: pairs inside one hotel; catalog: pairs across hotels; both (default)',
  '  --format F        json (default: summary + groups) or csv (one line per member)',
  '  --out FILE        local file, written under a temporary name and renamed when complete (default stdout)',
  `  --neighbours K    nearest neighbours searched per row (default ${DUPES_DEFAULTS.neighbours})`,
  `  --nprobes N       IVF partitions probed per search (default ${DUPES_DEFAULTS.nprobes})`,
  '  --exact           search every row exhaustively instead of the vector index (slow; the recall baseline)',
  '',
  'Exact duplicates share content_sha256; near duplicates are found with the vector index (k nearest',
  'neighbours of every row, cut at the threshold), never all pairs. Pairs are joined into groups; each',
  'group names a representative: the largest image (width × height), ties to the smallest image_id.',
].join('\n');

export const command: CliCommand = {
  name: 'dupes',
  summary: 'Find exact (content hash) and near (embedding cosine) duplicate images; groups as JSON or CSV',
  usage: USAGE,
  options: {
    db: { type: 'string' },
    threshold: { type: 'string' },
    scope: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    neighbours: { type: 'string' },
    nprobes: { type: 'string' },
    exact: { type: 'boolean' },
  },
  async run(values) {
    const db = stringOpt(values, 'db');
    const format = stringOpt(values, 'format', 'json');
    const scope = stringOpt(values, 'scope', DUPES_DEFAULTS.scope);
    const thresholdText = stringOpt(values, 'threshold');
    const threshold = thresholdText === undefined ? DUPES_DEFAULTS.threshold : Number(thresholdText);
    const problem = !db
      ? 'give --db'
      : !DUPES_FORMATS.includes(format as DupesFormat)
        ? `--format must be ${DUPES_FORMATS.join('|')}, got ${format}`
        : !DUPES_SCOPES.includes(scope as DupesScope)
          ? `--scope must be ${DUPES_SCOPES.join('|')}, got ${scope}`
          : !(threshold > 0 && threshold <= 1)
            ? `--threshold must be a number in (0, 1], got ${thresholdText}`
            : undefined;
    if (problem) {
      console.error(`vista dupes: ${problem}\n\n${USAGE}`);
      return 2;
    }
    const store = await openStore(db!);
    try {
      const report = await findDupes(store, {
        threshold,
        scope: scope as DupesScope,
        neighbours: intOpt(values, 'neighbours'),
        nprobes: intOpt(values, 'nprobes'),
        exact: values.exact === true,
        onProgress: (done, rows) => process.stderr.write(`\r[dupes] ${done}/${rows} rows searched`),
        onWarning: (message) => process.stderr.write(`\n[dupes] WARNING: ${message}\n`),
      });
      process.stderr.write('\n');
      const out = stringOpt(values, 'out');
      await writeDupes(report, format as DupesFormat, out);
      const { groups, ...summary } = report;
      process.stderr.write(`[dupes] ${groups.length} groups, ${report.duplicateRows} duplicate rows (${JSON.stringify(summary)})${out ? ` → ${out}` : ''}\n`);
      return 0;
    } finally {
      store.close();
    }
  },
};
