/**
 * `vista` command-line entry. Sub-commands are loaded lazily so that `vista search` does not pay
 * for loading the CDK or the worker.
 *
 * How misuse is answered, once for every command: a bad or unknown flag, a stray word, a value a
 * typed reader (lib/cli/command.ts) refuses, or a permanent error (a missing model, an invalid
 * config) prints ONE line saying what to do and exits 2, which Batch does not retry. Anything else
 * exits 1 (retried). No stack trace unless `--debug` (anywhere on the line) or VISTA_DEBUG=1.
 */
import { parseArgs } from 'node:util';
import { isVistaError } from '../core/errors';
import { EXIT_PERMANENT, EXIT_RETRYABLE, exitCodeFor } from '../core/exit-codes';
import { type CliCommand, isUsageError } from './command';

const COMMANDS: Record<string, () => CliCommand> = {
  worker: () => require('./commands/worker').command,
  'model generate': () => require('./commands/model-generate').command,
  backfill: () => require('./commands/backfill').command,
  'backfill index': () => require('./commands/backfill-index').command,
  search: () => require('./commands/search').command,
  api: () => require('./commands/api').command,
  serve: () => require('./commands/serve').command,
  'realtime ingest': () => require('./commands/realtime-ingest').command,
  demo: () => require('./commands/demo').command,
  'bench worker': () => require('./commands/bench-worker').command,
  'bench store': () => require('./commands/bench-store').command,
  'bench index-fit': () => require('./commands/bench-index-fit').command,
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
  'bench api': () => require('./commands/bench-api').command,
  'bench page': () => require('./commands/bench-page').command,
  chaos: () => require('./commands/chaos').command,
  'bench plan': () => require('./commands/bench-plan').command,
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
  lines.push('', 'Run `vista <command> --help` for its options. Add --debug to any command for stack traces and debug logs.');
  console.log(lines.join('\n'));
}

function resolveCommand(argv: string[]): { name: string; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    if (argv.length >= words && COMMANDS[name]) return { name, rest: argv.slice(words) };
  }
  return undefined;
}

let crashHandlersInstalled = false;

export async function main(argv: string[]): Promise<void> {
  const debug = argv.includes('--debug') || Boolean(process.env.VISTA_DEBUG);
  // Child processes (the backfill's workers) inherit it.
  if (debug) process.env.VISTA_DEBUG ||= '1';
  const args = argv.filter((a) => a !== '--debug');
  const report = makeReporter(debug);
  if (!crashHandlersInstalled) {
    crashHandlersInstalled = true;
    process.on('uncaughtException', (err) => report.crash('vista', err));
    process.on('unhandledRejection', (err) => report.crash('vista', err));
  }

  if (args.length === 0 || args[0] === '--help' || args[0] === '-h' || args[0] === 'help') {
    printHelp();
    return;
  }
  const resolved = resolveCommand(args);
  if (!resolved) {
    const guess = closest(args.slice(0, 2).join(' '), Object.keys(COMMANDS)) ?? closest(args[0], Object.keys(COMMANDS));
    report.usage('vista', `unknown command "${args[0]}"${guess ? ` (did you mean "${guess}"?)` : ''}. Run: vista --help`);
    return;
  }
  const label = `vista ${resolved.name}`;
  let command: CliCommand;
  try {
    command = COMMANDS[resolved.name]();
  } catch (err) {
    report.crash(label, err);
    return;
  }
  if (resolved.rest.includes('--help') || resolved.rest.includes('-h')) {
    console.log(`vista ${command.name}: ${command.summary}\n\n${command.usage}`);
    return;
  }
  try {
    const { values, positionals } = parseCommandLine(command, resolved.rest);
    process.exitCode = await command.run(values, positionals);
  } catch (err) {
    report.failure(label, command, err);
  }
}

/** node:util parseArgs, with its errors turned into usage errors that name the fix. */
function parseCommandLine(command: CliCommand, args: string[]): { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options: command.options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageFromParseArgs(command, err);
  }
  const allowed = command.positionals ?? (command.run.length >= 2 ? 'any' : []);
  if (allowed !== 'any') {
    const stray = parsed.positionals.find((p, i) => i > 0 || !allowed.includes(p));
    if (stray !== undefined) {
      // Sub-commands registered as their own modules (`backfill index`) count as words it takes.
      const words = [...allowed, ...Object.keys(COMMANDS).filter((n) => n.startsWith(`${command.name} `)).map((n) => n.slice(command.name.length + 1))];
      const expected = words.length ? ` (it takes ${words.map((w) => `"${w}"`).join(' or ')})` : '';
      throw Object.assign(new Error(`unexpected argument "${stray}"${expected}. Run: vista ${command.name} --help`), { code: 'USAGE' });
    }
  }
  return parsed;
}

function usageFromParseArgs(command: CliCommand, err: unknown): unknown {
  const code = (err as { code?: string }).code ?? '';
  if (!code.startsWith('ERR_PARSE_ARGS')) return err;
  const message = (err as Error).message;
  const flag = /'(-{1,2}[^'\s<]+)/.exec(message)?.[1] ?? '';
  const names = Object.keys(command.options);
  let text: string;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const guess = closest(flag.replace(/^-+/, ''), names);
    text = `unknown option ${flag}${guess ? ` (did you mean --${guess}?)` : ''}`;
  } else if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = flag.replace(/^-+/, '');
    text = command.options[name]?.type === 'boolean' ? `${flag} takes no value` : `${flag} needs a value`;
  } else {
    text = message.split('.')[0];
  }
  return Object.assign(new Error(`${text}. Run: vista ${command.name} --help`), { code: 'USAGE' });
}

/** How failures reach the terminal: one line and an exit code, the stack only with --debug. */
function makeReporter(debug: boolean) {
  const stackOf = (err: unknown) => (debug && err instanceof Error && err.stack ? `\n${err.stack}` : '');
  const hint = debug ? '' : ' (add --debug for the stack trace)';
  return {
    usage(label: string, message: string): void {
      console.error(`${label}: ${message}`);
      process.exitCode = EXIT_PERMANENT;
    },
    failure(label: string, command: CliCommand, err: unknown): void {
      if (isUsageError(err)) {
        const message = (err as Error).message;
        const help = message.includes('--help') ? '' : `. Run: vista ${command.name} --help`;
        console.error(`${label}: ${message}${help}${stackOf(err)}`);
        process.exitCode = EXIT_PERMANENT;
      } else if (isVistaError(err)) {
        console.error(`${label}: ${err.code}: ${oneLine(err.message)}${stackOf(err)}`);
        process.exitCode = exitCodeFor(err.code);
      } else if (isPermanentSystemError(err)) {
        console.error(`${label}: ${oneLine((err as Error).message)}${stackOf(err)}`);
        process.exitCode = EXIT_PERMANENT;
      } else {
        console.error(`${label} failed: ${oneLine(describe(err))}${debug ? stackOf(err) : hint}`);
        process.exitCode = EXIT_RETRYABLE;
      }
    },
    /** An error nothing awaited (a stray callback): report it the same way, and stop. */
    crash(label: string, err: unknown): void {
      console.error(`${label} failed: ${oneLine(describe(err))}${debug ? stackOf(err) : hint}`);
      process.exit(isVistaError(err) ? exitCodeFor(err.code) : EXIT_RETRYABLE);
    },
  };
}

/** A path that is a folder where a file is expected (or the reverse): the same run fails the same way. */
function isPermanentSystemError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EISDIR' || code === 'ENOTDIR';
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}

function oneLine(text: string): string {
  return text.split('\n')[0].trim();
}

/** The candidate within edit distance 2 of `word`, if any: for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(word, name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}
