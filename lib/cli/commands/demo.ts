import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEMO_HOTELS, generateDemoCatalog } from '../../core/backfill/demo/catalog';
import { runDemoSearches } from '../../core/backfill/demo/searches';
import { makeLogger, silentLogger } from '../../core/log';
import { ensureDefaultModel, RANDOM_WEIGHTS_WARNING } from '../../core/pipeline/worker';
import { type CliCommand, countOpt, stringOpt, usageError } from '../command';
import { printReport, runBackfillWithProgress } from './backfill';
import { runRealtimeDemo } from './demo-realtime';

const DEFAULT_DIR = path.resolve(__dirname, '..', '..', '..', '.vista', 'demo');
const MARKER = '.vista-demo';

const options = {
  dir: { type: 'string' },
  model: { type: 'string' },
  images: { type: 'string' },
  'shard-size': { type: 'string' },
  workers: { type: 'string' },
} as const;

export const command: CliCommand = {
  name: 'demo',
  summary: 'Sample catalog → local backfill (the real state machine) → LanceDB → example searches → real-time requests and an upload into search',
  usage: [
    'vista demo [--dir DIR] [--model DIR] [--images N] [--shard-size N] [--workers N]',
    '',
    '  --dir DIR          where the catalog, run files and database go (default .vista/demo)',
    '  --model DIR        CLIP model folder (default: tiny random model, meaningless tags)',
    '  --images N         synthetic pictures to generate (default 240)',
    '  --shard-size N     entries per shard (default 50)',
    '  --workers N        worker processes at once (default: cores)',
  ].join('\n'),
  options,
  async run(values) {
    const dir = path.resolve(stringOpt(values, 'dir', DEFAULT_DIR));
    const logger = makeLogger();
    const tty = Boolean(process.stderr.isTTY);
    const say = (text: string) => console.log(`\n== ${text}`);

    await prepareDemoDir(dir);
    say(`Generating the sample catalog in ${dir}`);
    const catalog = await generateDemoCatalog({ dir: path.join(dir, 'catalog'), count: countOpt(values, 'images', 240) });
    console.log(`${catalog.images} pictures (JPEG, PNG, WebP) of 8 hotels, ${catalog.broken.length} broken files, manifest ${catalog.manifestUri}`);

    let model = stringOpt(values, 'model');
    if (!model) {
      model = await ensureDefaultModel(logger);
      console.log(banner([RANDOM_WEIGHTS_WARNING, 'Then: npm run demo -- --model DIR']));
    }

    say('Running the backfill state machine locally (shard → workers → load → index → report)');
    const result = await runBackfillWithProgress({
      manifestUri: catalog.manifestUri,
      workUri: path.join(dir, 'work'),
      dbUri: path.join(dir, 'db'),
      shardSize: countOpt(values, 'shard-size', 50),
      modelUri: model,
      workers: countOpt(values, 'workers', os.availableParallelism()),
      logger,
      tty,
    });
    say('Run report');
    await printReport(result);
    if (!result.report || result.report.images.loaded === 0) return 1;

    say('Example searches');
    await runDemoSearches({ dbUri: path.join(dir, 'db'), modelUri: model, print: (line) => console.log(line) });

    say('Real time: one new picture, and one broken file, through the API Lambda and the inference server; then an upload, into search');
    const hotel = DEMO_HOTELS[0];
    await runRealtimeDemo({
      modelUri: model,
      picture: catalog.firstPicture,
      broken: catalog.broken[0].uri,
      hotelName: hotel.name,
      city: hotel.city,
      dbUri: path.join(dir, 'db'),
      logger: silentLogger,
      print: (line) => console.log(line),
    });
    console.log(`\nEverything is in ${dir}. Try: npx vista search --help`);
    console.log(`See the catalog in a browser: npx vista api --db ${path.relative(process.cwd(), path.join(dir, 'db')) || '.'} --model ${path.relative(process.cwd(), model) || model}  then open http://127.0.0.1:8080/`);
    return 0;
  },
};

/** Starts each demo from an empty run and database, but only deletes a folder the demo made. */
async function prepareDemoDir(dir: string): Promise<void> {
  const marker = path.join(dir, MARKER);
  const entries = await fs.readdir(dir).catch(() => [] as string[]);
  if (entries.length > 0 && !entries.includes(MARKER)) {
    throw usageError(`${dir} is not empty and was not made by the demo: choose another --dir`);
  }
  for (const sub of ['work', 'db']) await fs.rm(path.join(dir, sub), { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(marker, 'made by `vista demo`\n');
}

function banner(lines: string[]): string {
  const width = 78;
  const wrap = (text: string) => text.match(new RegExp(`.{1,${width - 4}}(\\s|$)`, 'g'))?.map((l) => l.trim()) ?? [text];
  const body = lines.flatMap(wrap).map((l) => `!! ${l.padEnd(width - 6)} !!`);
  const edge = '!'.repeat(width);
  return ['', edge, ...body, edge, ''].join('\n');
}
