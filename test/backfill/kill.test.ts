/**
 * The local Batch of `vista backfill` killed while its children run (SIGKILL: no cleanup at all;
 * SIGTERM: the default from a terminal or an orchestrator) takes its children with it. Temporary
 * files of killed writers are removed on resume.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeStaleTempFiles } from '../../lib/core/io/location';
import { makeShardOutput } from '../../lib/core/pipeline/shard-output';

const REPO = path.resolve(__dirname, '..', '..');

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-kill-'));
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

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

describe('stale temporary files', () => {
  it('are removed when their writer is gone, never while it lives', async () => {
    const deadPid = spawn(process.execPath, ['-e', '']).pid!;
    await waitFor('a dead pid', () => !alive(deadPid), 5_000);
    const out = path.join(dir, 'out');
    await fs.mkdir(path.join(out, 'nested'), { recursive: true });
    await fs.writeFile(path.join(out, `part-00000.arrow.tmp-${deadPid}-1`), 'half');
    await fs.writeFile(path.join(out, 'nested', `report.json.tmp-${deadPid}-2`), 'half');
    await fs.writeFile(path.join(out, `part-00001.arrow.tmp-${process.pid}-3`), 'being written');
    await fs.writeFile(path.join(out, 'notes.json'), '{}');
    // The worker's resume (flat) and the backfill's (recursive).
    expect((await makeShardOutput(out, 4).completedParts()).size).toBe(0);
    expect((await fs.readdir(out)).sort()).toEqual(['nested', 'notes.json', `part-00001.arrow.tmp-${process.pid}-3`]);
    expect(await removeStaleTempFiles(out, { recursive: true })).toEqual([path.join(out, 'nested', `report.json.tmp-${deadPid}-2`)]);
  });
});

describe('killing the local Batch', () => {
  it.each(['SIGKILL', 'SIGTERM'] as const)('%s of the local Batch takes its children with it', async (signal) => {
    const driver = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'support', 'batch-driver.ts'), path.join(dir, `logs-${signal}`)], {
      cwd: REPO,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const children = await killMidRun(driver, signal);
    await waitFor(`children ${children.join(', ')} to exit`, () => children.every((pid) => !alive(pid)), 10_000);
  });
});
