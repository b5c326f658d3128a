/**
 * A worker process killed mid-shard (SIGKILL: no cleanup, like a Spot reclaim) and started
 * again ends with every entry exactly once.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readArrowFile } from '../../lib/core/pipeline/arrow-rows';
import { writePhotoLikeJpegs } from '../support/fixtures';
import { TINY_MODEL_DIR } from '../support/models';

const REPO = path.resolve(__dirname, '..', '..');
const ENTRIES = 600;
const PART_SIZE = 20;

function startWorker(shard: string, out: string, artifacts: string) {
  return spawn(
    process.execPath,
    [path.join(REPO, 'bin', 'vista.js'), 'worker', '--shard', shard, '--out', out, '--model', TINY_MODEL_DIR,
      '--artifacts', artifacts, '--part-size', String(PART_SIZE), '--batch-size', '2', '--concurrency', '1', '--json'],
    { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

async function markers(out: string): Promise<string[]> {
  try {
    return (await fs.readdir(out)).filter((n) => /^part-\d+\.json$/.test(n));
  } catch {
    return [];
  }
}

describe('worker crash and restart', () => {
  it('resumes a killed shard with no duplicates and nothing missing', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-crash-'));
    const photos = await writePhotoLikeJpegs(path.join(tmp, 'img'), 30, { megapixels: 0.2 });
    const shard = path.join(tmp, 'shard.jsonl');
    const lines = Array.from({ length: ENTRIES }, (_, i) => JSON.stringify({ uri: photos[i % photos.length], image_id: `img-${i}` }));
    await fs.writeFile(shard, lines.join('\n') + '\n');
    const out = path.join(tmp, 'out');
    const artifacts = path.join(tmp, 'artifacts');

    const first = startWorker(shard, out, artifacts);
    let stderr = '';
    first.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => first.on('exit', resolve));
    const deadline = Date.now() + 90_000;
    while ((await markers(out)).length < 3) {
      if (Date.now() > deadline) throw new Error(`worker made no progress:\n${stderr}`);
      if (first.exitCode !== null) throw new Error(`worker exited early (${first.exitCode}):\n${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    first.kill('SIGKILL');
    await exited;
    const partsBefore = (await markers(out)).length;
    // The kill must have landed mid-shard, or this test proves nothing.
    await expect(fs.access(path.join(out, 'summary.json'))).rejects.toThrow();
    expect(partsBefore).toBeLessThan(ENTRIES / PART_SIZE);

    const second = startWorker(shard, out, artifacts);
    const code = await new Promise<number | null>((resolve) => second.on('exit', resolve));
    expect(code).toBe(0);

    const summary = JSON.parse(await fs.readFile(path.join(out, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ input: ENTRIES, succeeded: ENTRIES, failed: 0 });
    expect(summary.resumed_parts).toBeGreaterThanOrEqual(partsBefore);
    const ids: string[] = [];
    for (const name of (await fs.readdir(out)).filter((n) => n.endsWith('.arrow'))) {
      const table = readArrowFile(await fs.readFile(path.join(out, name)));
      ids.push(...(table.getChild('image_id')!.toArray() as string[]));
    }
    expect(ids).toHaveLength(ENTRIES);
    expect(new Set(ids)).toEqual(new Set(lines.map((_, i) => `img-${i}`)));
    await fs.rm(tmp, { recursive: true, force: true });
  });
});
