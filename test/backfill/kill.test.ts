/**
 * `vista backfill` killed while its worker processes run (SIGKILL: no cleanup at all; SIGTERM:
 * the default from a terminal or an orchestrator) takes its children with it, and a rerun of
 * the same run id finishes with every image stored once. Temporary files of killed writers
 * are removed on resume.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunReport } from '../../lib/core/backfill/report';
import { readJson } from '../../lib/core/io/location';
import { openStore, TableName } from '../../lib/core/store';
import { writePhotoLikeJpegs } from '../support/fixtures';
import { TINY_MODEL_DIR } from '../support/models';

const REPO = path.resolve(__dirname, '..', '..');
const IMAGES = 120;
const RUN_ID = 'kill-test';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-kill-'));
  const photos = await writePhotoLikeJpegs(path.join(dir, 'img'), IMAGES, { megapixels: 0.03 });
  await fs.writeFile(path.join(dir, 'manifest.jsonl'), photos.map((uri, i) => JSON.stringify({ uri, image_id: `img-${i}` })).join('\n') + '\n');
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

function startBackfill(): ChildProcess {
  return spawn(
    process.execPath,
    [path.join(REPO, 'bin', 'vista.js'), 'backfill', '--manifest', path.join(dir, 'manifest.jsonl'), '--work', path.join(dir, 'work'),
      '--db', path.join(dir, 'db'), '--model', TINY_MODEL_DIR, '--shard-size', '40', '--workers', '2', '--run-id', RUN_ID, '--json'],
    { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

/** Pids of the node processes `pid` started (not helpers such as esbuild's service). */
function childrenOf(pid: number): number[] {
  let lines: string[];
  try {
    lines = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n');
  } catch {
    return []; // ps exits 1 when there are none
  }
  return lines.map((l) => l.trim().split(/\s+/)).filter(([p, cmd]) => Number(p) > 0 && cmd === process.execPath).map(([p]) => Number(p));
}

function describe_(pids: number[]): string {
  try {
    return execFileSync('ps', ['-o', 'pid=,stat=,args=', '-p', pids.join(',')], { encoding: 'utf8' });
  } catch {
    return 'none';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie (exited, not yet reaped by its new parent) is dead for our purpose.
    return !/^\s*Z/.test(execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

async function waitFor(what: string | (() => string), check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until `parent` runs two node children, kills it with `signal`; returns the children's pids. */
async function killMidRun(parent: ChildProcess, signal: NodeJS.Signals): Promise<number[]> {
  let stderr = '';
  parent.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => parent.once('exit', () => resolve()));
  let children: number[] = [];
  // Slow on a loaded machine: the backfill plans its shards before it starts workers.
  await waitFor('two children', () => {
    if (parent.exitCode !== null) throw new Error(`the parent ended before it could be killed:\n${stderr}`);
    children = childrenOf(parent.pid!);
    return children.length >= 2;
  }, 180_000);
  parent.kill(signal);
  await exited;
  return children;
}

async function imageRows(): Promise<{ rows: number; distinctIds: number }> {
  const store = await openStore(path.join(dir, 'db'), { readConsistencySeconds: 0 });
  try {
    const table = await store.table(TableName.images);
    const ids = (await table!.query().select(['image_id']).toArray()).map((r) => String(r.image_id));
    return { rows: ids.length, distinctIds: new Set(ids).size };
  } finally {
    store.close();
  }
}

describe('killing vista backfill', () => {
  it.each(['SIGKILL', 'SIGTERM'] as const)('%s of the local Batch takes its children with it', async (signal) => {
    const driver = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'support', 'batch-driver.ts'), path.join(dir, `logs-${signal}`)], {
      cwd: REPO,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const children = await killMidRun(driver, signal);
    await waitFor(`children ${children.join(', ')} to exit`, () => children.every((pid) => !alive(pid)), 10_000);
  });

  it('SIGKILL of vista backfill mid-run kills its workers; the rerun stores every image once and removes stale temp files', async () => {
    // Killed as soon as both workers exist: a child notices its parent's death when its event
    // loop turns, so one still loading its modules exits once it has loaded them.
    const workers = await killMidRun(startBackfill(), 'SIGKILL');
    await waitFor(() => `workers to exit: ${describe_(workers)}`, () => workers.every((pid) => !alive(pid)), 60_000);

    // A writer killed between its temporary file and the rename left this behind (its pid is gone).
    const results = path.join(dir, 'work', 'runs', RUN_ID, 'results', 'shard-00000');
    await fs.mkdir(results, { recursive: true });
    const deadPid = spawn(process.execPath, ['-e', '']).pid!;
    await waitFor('a dead pid', () => !alive(deadPid), 5_000);
    const stale = path.join(results, `part-00000.arrow.tmp-${deadPid}-1`);
    await fs.writeFile(stale, 'half a file');

    const rerun = startBackfill();
    let stderr = '';
    rerun.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => rerun.once('exit', resolve));
    expect({ code, stderr: code === 0 ? '' : stderr.slice(-2000) }).toEqual({ code: 0, stderr: '' });
    const report = await readJson<RunReport>(path.join(dir, 'work', 'runs', RUN_ID, 'report.json'));
    expect(report.totals).toMatchObject({ entries: IMAGES, succeeded: IMAGES, failed: 0, loadedRows: IMAGES });
    expect(await imageRows()).toEqual({ rows: IMAGES, distinctIds: IMAGES });
    await expect(fs.access(stale)).rejects.toThrow();
  }, 300_000);
});
