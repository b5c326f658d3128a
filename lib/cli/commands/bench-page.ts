import * as path from 'node:path';
import { findChromium, runPageBench } from '../../../bench/page';
import { type CliCommand, countOpt, stringOpt, usageError } from '../command';

export const command: CliCommand = {
  name: 'bench page',
  summary: "Benchmark the explorer page's first paint in chromium (fresh context per load); prints JSON",
  usage: [
    'vista bench page [--loads 10] [--images 32] [--dir DIR]',
    '',
    '  --loads N    page loads, each in a fresh browser context (default 10)',
    '  --images N   images in the catalog behind the page (default 32)',
    '  --dir DIR    work folder, wiped first (default .vista/bench/page)',
    '',
    "Needs Debian's chromium (apt-get install -y chromium) or CHROMIUM_PATH. Target: first paint under 1 s.",
  ].join('\n'),
  options: { loads: { type: 'string' }, images: { type: 'string' }, dir: { type: 'string' } },
  async run(values) {
    const chromium = findChromium();
    if (!chromium) throw usageError('no chromium found: apt-get install -y chromium, or set CHROMIUM_PATH');
    const result = await runPageBench({
      loads: countOpt(values, 'loads', 10),
      images: countOpt(values, 'images', 32),
      chromium,
      workDir: path.resolve(stringOpt(values, 'dir', '.vista/bench/page')),
      log: (m) => process.stderr.write(`[bench page] ${m}\n`),
    });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};
