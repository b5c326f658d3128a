/** Exit codes are part of the Batch contract: 1 is retried, 2 is not, 0 means the shard is done. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TINY_MODEL_DIR } from '../support/models';

const VISTA = path.resolve(__dirname, '..', '..', 'bin', 'vista.js');
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [VISTA, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

describe('vista exit codes', () => {
  it('exits 2 (not retried) for a missing model, with the code in the message', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vista-exit-'));
    writeFileSync(path.join(dir, 'shard.txt'), '/nowhere.jpg\n');
    const r = run(['worker', '--shard', path.join(dir, 'shard.txt'), '--out', path.join(dir, 'out'), '--model', '/no/such/model']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('MODEL_NOT_FOUND');
  });

  it('exits 2 for an unknown flag, in one line that points to the help', () => {
    const r = run(['worker', '--no-such-flag']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('vista worker: unknown option --no-such-flag. Run: vista worker --help');
  });

  it('exits 0 for an array child past the shard count (Batch arrays have at least 2 children)', () => {
    const r = run(['worker', '--from-env'], {
      AWS_BATCH_JOB_ARRAY_INDEX: '1', VISTA_SHARD_COUNT: '1', VISTA_SHARDS_URI: '/tmp/shards', VISTA_RESULTS_URI: '/tmp/results',
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('nothing to do');
  });

  it('exits 2 when the container environment is incomplete', () => {
    const r = run(['worker', '--from-env'], { AWS_BATCH_JOB_ARRAY_INDEX: '0', VISTA_SHARDS_URI: '', VISTA_RESULTS_URI: '' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('CONFIG_INVALID');
  });

  it('exits 2 for an invalid taxonomy, and does not hang on the model thread it had already started', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vista-exit-'));
    const taxonomy = path.join(dir, 'taxonomy.json');
    writeFileSync(taxonomy, '{"categories": "not a list"}');
    writeFileSync(path.join(dir, 'shard.txt'), '/nowhere.jpg\n');
    const r = run(['worker', '--shard', path.join(dir, 'shard.txt'), '--out', path.join(dir, 'out'), '--model', TINY_MODEL_DIR, '--taxonomy', taxonomy]);
    expect(r.signal).toBeNull(); // not killed by the timeout
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('TAXONOMY_INVALID');
  });
});
