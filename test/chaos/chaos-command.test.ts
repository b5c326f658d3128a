/** Smoke test of `vista chaos` at tiny size: a worker and a serve experiment, one trial, the table written out. */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chaosTable } from '../../lib/core/chaos/run-chaos';

const REPO = path.resolve(__dirname, '..', '..');

describe('vista chaos', () => {
  it('runs an experiment and prints and writes its table', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-chaos-'));
    const out = path.join(dir, 'table.md');
    const child = spawn(process.execPath, [path.join(REPO, 'bin', 'vista.js'), 'chaos', '--trials', '1', '--images', '2', '--experiment', 'error500-20', '--experiment', 'serve-traversal', '--out', out, '--json'], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, stderr: code === 0 ? '' : stderr.slice(-1500) }).toEqual({ code: 0, stderr: '' });
    const { results } = JSON.parse(stdout.trim().split('\n').pop()!) as { results: Parameters<typeof chaosTable>[0] };
    expect(results).toHaveLength(2);
    expect(results[0]).toMatchObject({ name: 'error500-20', trials: 1, lost: 0, doubled: 0, wronglyFailed: 0, hangs: 0, crashes: 0 });
    // A hostile-client experiment of vista serve: 9 dot-segment spellings and 5 existence probes, none let through.
    expect(results[1]).toMatchObject({ name: 'serve-traversal', trials: 1, faultsInjected: 14, lost: 0, wronglyFailed: 0, hangs: 0, crashes: 0, breaches: 0 });
    expect(await fs.readFile(out, 'utf8')).toBe(`${chaosTable(results)}\n`);
    await fs.rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('refuses an unknown experiment with a usage error (exit 2, no stack trace)', async () => {
    const child = spawn(process.execPath, [path.join(REPO, 'bin', 'vista.js'), 'chaos', '--experiment', 'nope'], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('unknown experiment');
    expect(stderr).not.toContain('    at ');
  }, 60_000);
});
