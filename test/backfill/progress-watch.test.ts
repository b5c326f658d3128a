import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runLayout } from '../../lib/core/backfill/layout';
import { watchRunProgress, type RunProgress } from '../../lib/core/backfill/progress-watch';
import { joinUri, writeJsonAtomic } from '../../lib/core/io/location';

let work: string;
beforeEach(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-progress-'));
});
afterEach(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

const marker = (part: number, input: number, failed: number) => ({ part, first_index: part * 10, input, succeeded: input - failed, failed, errors: [] });

describe('watchRunProgress', () => {
  it('adds up part markers of running shards and summaries of finished ones', async () => {
    const layout = runLayout(work, 'r1');
    const updates: RunProgress[] = [];
    const watcher = watchRunProgress({ workUri: work, runId: 'r1', intervalMs: 10, onUpdate: (p) => updates.push(p) });

    await writeJsonAtomic(layout.shardManifestUri, { shardCount: 3, entries: 45 });
    await writeJsonAtomic(joinUri(layout.shardResultsUri(0), 'part-00000.json'), marker(0, 10, 1));
    await writeJsonAtomic(joinUri(layout.shardResultsUri(0), 'part-00001.json'), marker(1, 10, 0));
    await writeJsonAtomic(joinUri(layout.shardResultsUri(1), 'part-00000.json'), marker(0, 10, 2));
    // Shard 1 then finishes: its summary replaces its markers.
    await writeJsonAtomic(layout.shardSummaryUri(1), { input: 15, succeeded: 12, failed: 3 });

    const final = await watcher.stop();
    expect(final).toEqual({ shardCount: 3, entries: 45, shardsDone: 1, processed: 35, succeeded: 31, failed: 4 });
    expect(updates.length).toBeGreaterThan(0);
  });

  it('reports nothing known before the shard step has written its manifest', async () => {
    const watcher = watchRunProgress({ workUri: work, runId: 'r2', intervalMs: 10, onUpdate: () => undefined });
    expect(await watcher.stop()).toEqual({ shardsDone: 0, processed: 0, succeeded: 0, failed: 0 });
  });
});
