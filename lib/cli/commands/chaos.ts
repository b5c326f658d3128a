import { promises as fs } from 'node:fs';
import { chaosTable, runChaos } from '../../core/chaos/run-chaos';
import { EXPERIMENTS } from '../../core/chaos/experiments';
import { makeLogger } from '../../core/log';
import { RANDOM_WEIGHTS_WARNING } from '../../core/pipeline/worker';
import { type CliCommand, intOpt, stringOpt, stringsOpt } from '../command';

const options = {
  trials: { type: 'string' },
  images: { type: 'string' },
  experiment: { type: 'string', multiple: true },
  seed: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export const command: CliCommand = {
  name: 'chaos',
  summary: 'Run the worker, loads and real-time ingest through a fault-injecting S3 proxy, and vista serve against hostile clients; print what went wrong',
  usage: [
    'vista chaos [--trials N] [--images N] [--experiment NAME]… [--seed N] [--out FILE.md]',
    '',
    '  --trials N         runs per experiment (default 3)',
    '  --images N         good images in the catalog; 5 broken entries are added (default 40)',
    `  --experiment NAME  one of: ${EXPERIMENTS.map((e) => e.name).join(', ')} (default: all)`,
    '  --seed N           seeds which requests get faults (default 1)',
    '  --out FILE         also write the table (Markdown) to FILE',
    '  --json             JSON log lines and a JSON result',
    '',
    'A local S3 server (s3rver, conditional PUTs enforced as on AWS) holds the catalog; the proxy in front',
    'of it injects 500s, 503 SlowDown, connection resets, cut-off bodies, stalls and lost write responses,',
    'per experiment. The real worker runs at its default retry settings (fetch timeout 1.5 s so that stalls',
    'end as timeouts quickly). load-* and ingest-* run the backfill\'s load step and the real-time ingest into',
    'LanceDB on S3 through the same proxy; serve-* send hostile clients to vista serve (tiny model).',
    'Exit code 1 when anything was lost, doubled, wrongly failed, hung, crashed or breached.',
  ].join('\n'),
  options,
  async run(values) {
    const json = values.json === true;
    const logger = makeLogger({ json: json ? true : undefined });
    const trials = intOpt(values, 'trials', 3)!;
    const images = intOpt(values, 'images', 40)!;
    if (trials < 1 || images < 1) throw Object.assign(new Error('--trials and --images must be at least 1'), { code: 'ERR_PARSE_ARGS_USAGE' });
    const experiments = stringsOpt(values, 'experiment');
    const unknown = experiments.filter((name) => !EXPERIMENTS.some((e) => e.name === name));
    if (unknown.length) {
      throw Object.assign(new Error(`unknown experiment ${unknown.join(', ')}; known: ${EXPERIMENTS.map((e) => e.name).join(', ')}`), { code: 'ERR_PARSE_ARGS_USAGE' });
    }
    if (!json) console.error('note: the worker runs the tiny random-weight model; tags are meaningless and not what is tested here.');
    const results = await runChaos({
      trials,
      images,
      experiments: experiments.length ? experiments : undefined,
      seed: intOpt(values, 'seed', 1),
      logger,
      onTrial: (name, trial, o) => {
        if (!json) {
          console.error(
            `${name} #${trial}: ${o.faults} faults, ${o.seconds.toFixed(1)} s, lost ${o.lost}, doubled ${o.doubled}, wrongly failed ${o.wronglyFailed}` +
              `${o.breaches ? `, breaches ${o.breaches}` : ''}${o.hung ? ', HUNG' : ''}${o.crashed ? ', CRASHED' : ''}${o.notes.length ? ` (${o.notes.slice(0, 3).join('; ')})` : ''}`,
          );
        }
      },
    });
    const table = chaosTable(results);
    const out = stringOpt(values, 'out');
    if (out) await fs.writeFile(out, `${table}\n`);
    if (json) console.log(JSON.stringify({ results, randomWeights: RANDOM_WEIGHTS_WARNING }));
    else console.log(table);
    const bad = results.some((r) => r.lost + r.doubled + r.wronglyFailed + r.hangs + r.crashes + r.breaches > 0);
    return bad ? 1 : 0;
  },
};
