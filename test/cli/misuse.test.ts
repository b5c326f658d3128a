/**
 * The CLI as a new user meets it: every misuse answers ONE line saying what to do and exits 2
 * (Batch does not retry it), with no stack trace unless --debug. Runs the real `node bin/vista.js`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const VISTA = path.resolve(__dirname, '..', '..', 'bin', 'vista.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'vista-misuse-'));

interface Outcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function vista(args: string[], timeoutMs = 60_000): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VISTA, ...args], { env: { ...process.env, VISTA_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** Runs `task` over `items` with at most `limit` at once: a shared 2-core box can't start 20 Node processes together. */
async function limited<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  });
  await Promise.all(runners);
  return results;
}

/**
 * Many command lines through the CLI's own main() in ONE Node process (the same code as bin/vista.js,
 * minus a process start per case): each case's stderr and exit code, as if run alone.
 */
async function vistaMany(argvs: string[][]): Promise<Outcome[]> {
  const driver = `
    require('tsx/cjs');
    const { main } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'lib', 'cli', 'main.ts'))});
    (async () => {
      const out = [];
      for (const argv of ${JSON.stringify(argvs)}) {
        let stderr = '';
        const write = process.stderr.write;
        const error = console.error;
        console.error = (...a) => { stderr += a.join(' ') + '\\n'; };
        process.exitCode = undefined;
        try { await main(argv); } finally { console.error = error; }
        out.push({ status: process.exitCode ?? 0, signal: null, stdout: '', stderr });
      }
      process.exitCode = 0;
      process.stdout.write(JSON.stringify(out));
    })();`;
  const r = await new Promise<Outcome>((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', driver], { env: { ...process.env, VISTA_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
  if (r.status !== 0) throw new Error(`driver failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Outcome[];
}

/** Exit 2, one line on stderr (log lines aside), no stack frames, and the line says `expected`. */
function expectOneLineMisuse(r: Outcome, expected: RegExp): void {
  expect(r.signal).toBeNull();
  const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('{'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(expected);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.status).toBe(2);
}

const shardFolder = path.join(dir, 'shards');
const shardFile = path.join(dir, 'shard.txt');
writeFileSync(shardFile, '/nowhere.jpg\n');
require('node:fs').mkdirSync(shardFolder);

// Run through main() in one process (vistaMany); the cases below that need a process of their own
// (a stack trace, a server, the file system) and a few representative ones run `node bin/vista.js`.
const cases: [string, string[], RegExp][] = [
  ['a non-number --k', ['search', '--db', dir, '--similar', 'x', '--k', 'abc'], /^vista search: --k must be a whole number, got "abc"\. Run: vista search --help$/],
  ['a non-number --batch-size', ['worker', '--shard', shardFile, '--out', dir, '--batch-size', 'abc'], /^vista worker: --batch-size must be a whole number/],
  ['a non-number --port', ['serve', '--port', 'abc'], /^vista serve: --port must be a whole number/],
  ['a port out of range', ['serve', '--port', '70000'], /^vista serve: --port must be at most 65535/],
  ['a folder as --shard', ['worker', '--shard', shardFolder, '--out', path.join(dir, 'out')], /--shard .* is a folder: give one shard file/],
  ['a missing --shard', ['worker', '--shard', path.join(dir, 'none.jsonl'), '--out', path.join(dir, 'out')], /--shard .* does not exist/],
  ['--shard-size 0', ['backfill', '--manifest', shardFile, '--work', dir, '--db', dir, '--shard-size', '0'], /--shard-size must be at least 1, got 0/],
  ['--workers 0', ['backfill', '--manifest', shardFile, '--work', dir, '--db', dir, '--workers', '0'], /--workers must be at least 1, got 0/],
  ['an unknown flag, with a guess', ['worker', '--shardd', shardFile], /^vista worker: unknown option --shardd \(did you mean --shard\?\)\. Run: vista worker --help$/],
  ['a flag without its value', ['search', '--db'], /^vista search: --db needs a value/],
  ['a value given to a switch', ['worker', '--json=yes'], /^vista worker: --json takes no value/],
  ['an unknown command', ['serch', '--db', dir], /^vista: unknown command "serch" \(did you mean "search"\?\)\. Run: vista --help$/],
  ['a stray word', ['search', 'pool', '--db', dir, '--similar', 'x'], /^vista search: unexpected argument "pool"/],
  ['a wrong sub-word', ['backfill', 'indx', '--db', dir], /^vista backfill: unexpected argument "indx" \(it takes "status" or "index"\)/],
  ['a choice outside its list', ['model', 'generate', '--out', dir, '--size', 'huge'], /^vista model generate: --size must be one of tiny, vit-b-32, got "huge"/],
  ['a missing required flag', ['realtime', 'ingest', '--inbox', dir], /^vista realtime ingest: --batches is required \(or --from-env\)/],
  ['search without a mode', ['search', '--db', dir], /give --db and exactly one of --similar, --text, --liked/],
  ['a folder as --manifest', ['backfill', '--manifest', shardFolder, '--work', dir, '--db', dir], /--manifest .* is a folder: give the manifest file/],
  ['a batch size past the limit', ['worker', '--shard', shardFile, '--out', dir, '--batch-size', '99999'], /--batch-size must be at most 4096, got 99999/],
];

const processCases: [string, string[], RegExp][] = [cases[0], cases[4], cases[8], cases[11]];

describe('vista CLI misuse', () => {
  let outcomes: Outcome[];
  const missingDb = path.join(dir, 'no-such-db');
  let missingDbOutcome: Outcome;
  let debugOutcome: Outcome;
  let processOutcomes: Outcome[];

  beforeAll(async () => {
    [outcomes, [missingDbOutcome, debugOutcome, ...processOutcomes]] = await Promise.all([
      vistaMany(cases.map(([, args]) => args)),
      limited(
        [
          ['search', '--db', missingDb, '--similar', 'x'],
          ['search', '--db', dir, '--similar', 'x', '--k', 'abc', '--debug'],
          ...processCases.map(([, args]) => args),
        ],
        2,
        (args) => vista(args),
      ),
    ]);
  });

  it.each(processCases.map((c, i) => [c[0], i] as const))('as its own process, %s: one line, exit 2', (_name, i) => {
    expectOneLineMisuse(processOutcomes[i], processCases[i][2]);
  });

  it.each(cases.map((c, i) => [c[0], i] as const))('%s: one line, exit 2', (_name, i) => {
    expectOneLineMisuse(outcomes[i], cases[i][2]);
  });

  it('search on a missing --db says so and creates nothing', () => {
    expectOneLineMisuse(missingDbOutcome, /--db .*no-such-db does not exist/);
    expect(existsSync(missingDb)).toBe(false);
  });

  it('--debug adds the stack trace', () => {
    expect(debugOutcome.status).toBe(2);
    expect(debugOutcome.stderr).toMatch(/--k must be a whole number/);
    expect(debugOutcome.stderr).toMatch(/^\s+at /m);
  });

  it('vista --help lists the commands and exits 0', async () => {
    const r = await vista(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('vista <command>');
    expect(r.stdout).toContain('--debug');
  });

  it('serve on a busy port says so and exits (it used to hang with a stack trace)', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      const r = await vista(['serve', '--host', '127.0.0.1', '--port', String(port)], 60_000);
      expectOneLineMisuse(r, new RegExp(`^vista serve: port ${port} is already in use`));
    } finally {
      blocker.close();
    }
  });
});
