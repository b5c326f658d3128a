/** The shape of a `vista` sub-command. Each lives in its own module under lib/cli/commands/. */
import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface CliCommand<O extends OptionSpec = OptionSpec> {
  /** e.g. "worker" or "model generate". */
  name: string;
  summary: string;
  /** Extra help text: one line per option, examples. */
  usage: string;
  options: O;
  /** Parsed `--flags` (node:util parseArgs values) and positionals. Returns the process exit code. */
  run(values: CliValues, positionals: string[]): Promise<number>;
}

export type CliValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** Reads a string option, with an optional default. */
export function stringOpt(values: CliValues, name: string): string | undefined;
export function stringOpt(values: CliValues, name: string, fallback: string): string;
export function stringOpt(values: CliValues, name: string, fallback?: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : fallback;
}

/** Reads a repeated string option (`--tag a --tag b`). */
export function stringsOpt(values: CliValues, name: string): string[] {
  const v = values[name];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return typeof v === 'string' ? [v] : [];
}

/** Reads an integer option; a non-integer is a usage error. */
export function intOpt(values: CliValues, name: string, fallback?: number): number | undefined {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n)) throw new Error(`--${name} must be an integer, got ${String(v)}`);
  return n;
}
