/**
 * Structured logging: one JSON object per line on stderr (what CloudWatch and log shippers
 * want), or short human lines when a person is watching a terminal. stdout stays free for
 * command output and CloudWatch embedded-metric records.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** JSON lines (default when stderr is not a terminal). */
  json?: boolean;
  fields?: Record<string, unknown>;
  write?: (line: string) => void;
  /** Drop debug lines unless VISTA_DEBUG is set. */
  debug?: boolean;
}

export function makeLogger(options: LoggerOptions = {}): Logger {
  const json = options.json ?? !process.stderr.isTTY;
  const base = options.fields ?? {};
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const debug = options.debug ?? Boolean(process.env.VISTA_DEBUG);
  const log = (level: LogLevel, message: string, fields: Record<string, unknown> = {}) => {
    if (level === 'debug' && !debug) return;
    if (json) {
      write(JSON.stringify({ time: new Date().toISOString(), level, message, ...base, ...fields }));
    } else {
      const extra = Object.entries({ ...fields })
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      const tag = level === 'info' ? '' : `${level.toUpperCase()} `;
      write(`${tag}${message}${extra ? `  ${extra}` : ''}`);
    }
  };
  return {
    log,
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    child: (fields) => makeLogger({ ...options, json, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = makeLogger({ json: true, write: () => {} });
