import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { calibratedTaxonomy, parseLabelLines } from '../../core/catalog/calibrate';
import { formatCalibration, runCalibration } from '../../core/catalog/calibrate-run';
import { modelHasRandomWeights } from '../../core/catalog/retag-run';
import { imagesTable } from '../../core/catalog/scan';
import { readText } from '../../core/io/location';
import { loadClipModel } from '../../core/model';
import { RANDOM_WEIGHTS_WARNING } from '../../core/pipeline/worker';
import { DEFAULT_ARTIFACTS_DIR, DEFAULT_MODEL_DIR } from '../../core/pipeline/worker-config';
import { openStore } from '../../core/store/connect';
import { getLabelBank, loadTaxonomy, parseTaxonomy, taxonomyId } from '../../core/tags';
import type { CliCommand, CliValues } from '../command';
import { stringOpt } from '../command';

const options = {
  db: { type: 'string' },
  labels: { type: 'string' },
  taxonomy: { type: 'string' },
  'target-precision': { type: 'string' },
  model: { type: 'string' },
  cache: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
} as const;

function usage(name: string, writes: boolean): string {
  return [
    `vista tags ${name} --db DIR|s3://… --labels labels.jsonl [--taxonomy T.json] [--target-precision 0.9]${writes ? ' --out T2.json' : ''}`,
    '',
    '  --labels FILE         JSONL: {"image_id": "…", "present": ["pool"], "absent": ["spa"]} per labelled image',
    '  --taxonomy FILE       taxonomy to calibrate (default: the bundled one)',
    '  --target-precision P  per label, the lowest threshold reaching this precision (default 0.9)',
    '  --model DIR, --cache DIR   the store\'s CLIP model and the label-bank cache (as vista retag)',
    ...(writes ? ['  --out FILE            the calibrated taxonomy (version + 1); apply it with vista retag'] : []),
    '  --json                the report as JSON',
    '',
    'Report per label: positives, negatives, current and calibrated threshold, precision and recall',
    'at it, average precision; labels that cannot reach the target keep their threshold.',
  ].join('\n');
}

async function run(values: CliValues, writes: boolean): Promise<number> {
  const db = stringOpt(values, 'db');
  const labelsFile = stringOpt(values, 'labels');
  const out = stringOpt(values, 'out');
  const target = Number(stringOpt(values, 'target-precision', '0.9'));
  if (!db || !labelsFile || (writes && !out) || !(target > 0 && target <= 1)) {
    console.error(`vista tags ${writes ? 'calibrate' : 'evaluate'}: give --db, --labels${writes ? ', --out' : ''} and a target precision in (0, 1]\n\n${usage(writes ? 'calibrate' : 'evaluate', writes)}`);
    return 2;
  }
  const taxonomy = await loadTaxonomy(stringOpt(values, 'taxonomy'));
  const labels = parseLabelLines(await readText(labelsFile), labelsFile);
  const modelDir = stringOpt(values, 'model', DEFAULT_MODEL_DIR);
  const model = await loadClipModel(modelDir, { logger: () => undefined });
  try {
    const bank = await getLabelBank(model, taxonomy, stringOpt(values, 'cache', DEFAULT_ARTIFACTS_DIR));
    const store = await openStore(db);
    try {
      const result = await runCalibration({ images: await imagesTable(store), taxonomy, bank, logitScale: model.logitScale, labels, targetPrecision: target });
      if (await modelHasRandomWeights(modelDir)) console.error(RANDOM_WEIGHTS_WARNING);
      let written: string | undefined;
      if (writes && out) {
        const next = parseTaxonomy(calibratedTaxonomy(taxonomy, result.reports), 'calibrated taxonomy');
        await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
        await fs.writeFile(out, `${JSON.stringify(next, null, 2)}\n`);
        written = `${out} (${taxonomyId(next)}, version ${next.version})`;
      }
      console.log(values.json === true ? JSON.stringify({ ...result, targetPrecision: target, written }, null, 2) : formatCalibration(result, target) + (written ? `\n\nwrote ${written}` : ''));
      return 0;
    } finally {
      store.close();
    }
  } finally {
    await model.close();
  }
}

export const calibrateCommand: CliCommand = {
  name: 'tags calibrate',
  summary: 'Per-label thresholds from human labels (labels.jsonl) at a target precision: writes a new taxonomy version',
  usage: usage('calibrate', true),
  options,
  run: (values) => run(values, true),
};

export const evaluateCommand: CliCommand = {
  name: 'tags evaluate',
  summary: 'The calibration report (precision, recall, average precision per label) without writing anything',
  usage: usage('evaluate', false),
  options,
  run: (values) => run(values, false),
};
