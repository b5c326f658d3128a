/**
 * The shape of a `vista` sub-command, and the typed readers of its options. Each command lives in
 * its own module under lib/cli/commands/.
 *
 * Misuse is answered in one place: every reader below throws a `UsageError` naming the flag and
 * what to give instead, and lib/cli/main.ts prints it as one line and exits 2 (Batch does not retry
 * a job that would fail the same way). A command checks anything else about its input (a file
 * that must exist, two flags that exclude each other) with `usageError(...)` or `requireOpt(...)`.
 */
import { existsSync, statSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface CliCommand<O extends OptionSpec = OptionSpec> {
  /** e.g. "worker" or "model generate". */
  name: string;
  summary: string;
  /** Extra help text: one line per option, examples. */
  usage: string;
  options: O;
  /**
   * Positional words the command accepts (e.g. `['index']` for `vista backfill index`); `'any'`
   * for free positionals. Default: none, so a stray word is a usage error instead of being ignored.
   */
  positionals?: readonly string[] | 'any';
  /** Parsed `--flags` (node:util parseArgs values) and positionals. Returns the process exit code. */
  run(values: CliValues, positionals: string[]): Promise<number>;
}

export type CliValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** Bad usage: main prints `vista <command>: <message>` as one line, no stack, and exits 2. */
export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function usageError(message: string): UsageError {
  return new UsageError(message);
}

export function isUsageError(err: unknown): err is UsageError {
  const code = (err as { code?: unknown } | null)?.code;
  // ERR_PARSE_ARGS_*: node:util's own, and the older convention of commands that threw them.
  return err instanceof UsageError || code === 'USAGE' || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
}

/** Reads a string option, with an optional default. An empty value (`--db ""`) is a usage error. */
export function stringOpt(values: CliValues, name: string): string | undefined;
export function stringOpt(values: CliValues, name: string, fallback: string): string;
export function stringOpt(values: CliValues, name: string, fallback?: string): string | undefined {
  const v = values[name];
  if (typeof v === 'string' && v.trim() === '') throw usageError(`--${name} needs a value`);
  return typeof v === 'string' ? v : fallback;
}

/** Reads a string option that must be given. */
export function requireOpt(values: CliValues, name: string, hint = ''): string {
  const v = stringOpt(values, name);
  if (v === undefined) throw usageError(`--${name} is required${hint ? ` (${hint})` : ''}`);
  return v;
}

/** Reads a repeated string option (`--tag a --tag b`). */
export function stringsOpt(values: CliValues, name: string): string[] {
  const v = values[name];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return typeof v === 'string' ? [v] : [];
}

export interface IntBounds {
  /** Smallest accepted value (inclusive). */
  min?: number;
  /** Largest accepted value (inclusive). */
  max?: number;
}

/** Reads an integer option; a non-integer, or one outside `bounds`, is a usage error. */
export function intOpt(values: CliValues, name: string): number | undefined;
export function intOpt(values: CliValues, name: string, fallback: number, bounds?: IntBounds): number;
export function intOpt(values: CliValues, name: string, fallback: number | undefined, bounds?: IntBounds): number | undefined;
export function intOpt(values: CliValues, name: string, fallback?: number, bounds: IntBounds = {}): number | undefined {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw usageError(`--${name} must be a whole number, got "${String(v)}"`);
  return checkBounds(name, n, bounds);
}

/** Reads a count (an integer ≥ 1 unless `bounds` say otherwise): sizes, workers, k, batch sizes. */
export function countOpt(values: CliValues, name: string): number | undefined;
export function countOpt(values: CliValues, name: string, fallback: number, bounds?: IntBounds): number;
export function countOpt(values: CliValues, name: string, fallback: number | undefined, bounds: IntBounds): number | undefined;
export function countOpt(values: CliValues, name: string, fallback?: number, bounds: IntBounds = {}): number | undefined {
  return intOpt(values, name, fallback, { min: 1, ...bounds });
}

/** Reads a TCP port (0 = any free port). */
export function portOpt(values: CliValues, name: string, fallback: number): number {
  return intOpt(values, name, fallback, { min: 0, max: 65_535 });
}

/** Reads an option that must be one of `choices`. */
export function choiceOpt<C extends string>(values: CliValues, name: string, choices: readonly C[], fallback: C): C;
export function choiceOpt<C extends string>(values: CliValues, name: string, choices: readonly C[]): C | undefined;
export function choiceOpt<C extends string>(values: CliValues, name: string, choices: readonly C[], fallback?: C): C | undefined {
  const v = stringOpt(values, name);
  if (v === undefined) return fallback;
  if (!(choices as readonly string[]).includes(v)) throw usageError(`--${name} must be one of ${choices.join(', ')}, got "${v}"`);
  return v as C;
}

/** Reads a comma-separated list of counts (`--batch-sizes 1,8,16`). */
export function countsOpt(values: CliValues, name: string, fallback: string): number[] {
  const text = stringOpt(values, name, fallback);
  return text.split(',').map((part) => countOpt({ [name]: part.trim() }, name)!);
}

/**
 * Checks that a local input (a plain path or file://) is an existing file; remote URIs (s3://…)
 * pass unchecked. A folder or a missing file fails every retry the same way: a usage error.
 */
export function checkLocalFile(flag: string, uri: string, expected: string): void {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file://')) return;
  const file = uri.startsWith('file://') ? new URL(uri) : uri;
  if (!existsSync(file)) throw usageError(`--${flag} ${uri} does not exist: give ${expected}`);
  if (statSync(file).isDirectory()) throw usageError(`--${flag} ${uri} is a folder: give ${expected} inside it`);
}

function checkBounds(name: string, n: number, { min, max }: IntBounds): number {
  if (min !== undefined && n < min) throw usageError(`--${name} must be at least ${min}, got ${n}`);
  if (max !== undefined && n > max) throw usageError(`--${name} must be at most ${max}, got ${n}`);
  return n;
}
