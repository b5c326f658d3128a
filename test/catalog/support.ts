/** A small loaded store for the catalog tests, and console capture for CLI commands. */
import { loadShardResults } from '../../lib/core/store/loader';
import { writeSyntheticShardResults, type SyntheticShard } from '../support/results';
import * as path from 'node:path';

export async function loadedStore(root: string, shards: { id: string; count: number; failures?: number; seed: number }[], dim = 32): Promise<{ db: string; shards: SyntheticShard[] }> {
  const db = path.join(root, 'db');
  const written: SyntheticShard[] = [];
  for (const s of shards) {
    const shard = await writeSyntheticShardResults(path.join(root, 'results', s.id), { shardId: s.id, count: s.count, dim, seed: s.seed, failures: s.failures ?? 0, partSize: 50 });
    await loadShardResults({ dbUri: db, shardResultsUri: shard.dir, shardId: shard.shardId });
    written.push(shard);
  }
  return { db, shards: written };
}

export async function captured(run: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await run(), out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    stderr.mockRestore();
  }
}
