/**
 * `vista` command-line entry. Sub-commands are loaded lazily so that `vista search` does not pay
 * for loading the CDK or the worker.
 */
import { parseArgs } from 'node:util';
import { isVistaError } from '../core/errors';
import { EXIT_PERMANENT, EXIT_RETRYABLE, exitCodeFor } from '../core/exit-codes';
import type { CliCommand } from './command';

const COMMANDS: Record<string, () => CliCommand> = {
  worker: () => require('./commands/worker').command,
  'model generate': () => require('./commands/model-generate').command,
  backfill: () => require('./commands/backfill').command,
  search: () => require('./commands/search').command,
  serve: () => require('./commands/serve').command,
  'realtime ingest': () => require('./commands/realtime-ingest').command,
  demo: () => require('./commands/demo').command,
  'bench worker': () => require('./commands/bench-worker').command,
  'bench store': () => require('./commands/bench-store').command,
  'bench serve': () => require('./commands/bench-serve').command,
  'bench ingest': () => require('./commands/bench-ingest').command,
  show: () => require('./commands/show').command,
  tags: () => require('./commands/tags').command,
  'tags calibrate': () => require('./commands/tags-calibrate').calibrateCommand,
  'tags evaluate': () => require('./commands/tags-calibrate').evaluateCommand,
  export: () => require('./commands/export').command,
  'export seo': () => require('./commands/export-seo').command,
  retag: () => require('./commands/retag').command,
  'bench catalog': () => require('./commands/bench-catalog').command,
  dupes: () => require('./commands/dupes').command,
};

function printHelp(): void {
  const lines = ['Usage: vista <command> [options]', '', 'Commands:'];
  for (const name of Object.keys(COMMANDS)) {
    let summary = '';
    try {
      summary = COMMANDS[name]().summary;
    } catch {
      summary = '(unavailable)';
    }
    lines.push(`  ${name.padEnd(16)} ${summary}`);
  }
  lines.push('', 'Run `vista <command> --help` for its options.');
  console.log(lines.join('\n'));
}

function resolveCommand(argv: string[]): { name: string; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    if (argv.length >= words && COMMANDS[name]) return { name, rest: argv.slice(words) };
  }
  return undefined;
}

export async function main(argv: string[]): Promise<void> {
  const resolved = resolveCommand(argv);
  if (!resolved) {
    printHelp();
    process.exitCode = argv.length === 0 || argv[0] === '--help' || argv[0] === 'help' ? 0 : EXIT_PERMANENT;
    return;
  }
  const command = COMMANDS[resolved.name]();
  if (resolved.rest.includes('--help') || resolved.rest.includes('-h')) {
    console.log(`vista ${command.name}: ${command.summary}\n\n${command.usage}`);
    return;
  }
  try {
    const { values, positionals } = parseArgs({ args: resolved.rest, options: command.options, allowPositionals: true, strict: true });
    process.exitCode = await command.run(values, positionals);
  } catch (err) {
    if (isVistaError(err)) {
      console.error(`vista ${command.name}: ${err.code}: ${err.message}`);
      process.exitCode = exitCodeFor(err.code);
    } else if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`vista ${command.name}: ${(err as Error).message}\n\n${command.usage}`);
      process.exitCode = EXIT_PERMANENT;
    } else {
      console.error(`vista ${command.name} failed:`, err);
      process.exitCode = EXIT_RETRYABLE;
    }
  }
}
