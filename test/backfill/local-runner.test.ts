/**
 * The backfill state machine run locally, with a stand-in worker and store so that these tests
 * are about the workflow (sequencing, failure paths, report); e2e.test.ts runs the real ones.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { taskStates, type AslDefinition } from '../../lib/core/backfill/definition';
import { runLocalBackfill, type LocalBackfillOptions } from '../../lib/core/backfill/local-runner';
import { BackfillState } from '../../lib/core/backfill/state-names';
import type { RunReport } from '../../lib/core/backfill/report';
import { readJson } from '../../lib/core/io/location';
import { makeFakeStore } from './support/fake-store';

const FAKE_WORKER = path.join(__dirname, 'support', 'fake-worker.js');

let dir: string;
let manifest: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-backfill-'));
  manifest = path.join(dir, 'manifest.txt');
  await fs.writeFile(manifest, Array.from({ length: 25 }, (_, i) => `s3://photos/${i}.jpg`).join('\n'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function options(overrides: Partial<LocalBackfillOptions> & { failWorkerIndex?: number } = {}): LocalBackfillOptions {
  const { failWorkerIndex, ...rest } = overrides;
  return {
    manifestUri: manifest,
    workUri: path.join(dir, 'work'),
    dbUri: path.join(dir, 'db'),
    shardSize: 10,
    modelUri: path.join(dir, 'model'),
    runId: 'test-run',
    workers: 2,
    retryDelayMs: 0,
    workerCommandFor: (index) => ({ command: process.execPath, args: [FAKE_WORKER, ...(index === failWorkerIndex ? ['--fail'] : [])] }),
    ...rest,
  };
}

describe('local backfill state machine', () => {
  it('shards, embeds every shard, loads each once, builds indexes and reports', async () => {
    const store = makeFakeStore();
    const result = await runLocalBackfill(options({ store }));

    expect(result.status).toBe('SUCCEEDED');
    expect(result.report).toMatchObject({ ok: true, shards: { total: 3, complete: 3, failed: 0 }, images: { entries: 25, succeeded: 25, loaded: 25 } });
    // Store shard ids carry the run: runs share one store and all number their shards from 0.
    expect(store.loads.map((l) => l.shardId).sort()).toEqual(['test-run/shard-00000', 'test-run/shard-00001', 'test-run/shard-00002']);
    expect(store.loads[0].shardResultsUri).toMatch(/work\/runs\/test-run\/results\/shard-0000\d$/);
    expect(store.indexBuilds).toBe(1);

    const report = await readJson<RunReport>(result.reportUri);
    expect(report.shards.map((s) => [s.shard, s.status, s.input])).toEqual([
      ['shard-00000', 'complete', 10],
      ['shard-00001', 'complete', 10],
      ['shard-00002', 'complete', 5],
    ]);
    expect(report.index).toEqual({ handedOff: false, rows: 0, report: { rows: 0, indexes: [{ table: 'images', column: 'embedding', type: 'IVF', action: 'created' }] } });
  });

  it('still loads the shards that completed when a worker fails, then fails the execution naming the failed shard', async () => {
    const store = makeFakeStore();
    const result = await runLocalBackfill(options({ store, failWorkerIndex: 1 }));

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('Vista.BackfillIncomplete');
    expect(result.cause).toMatch(/1 of 3 shards failed: shard-00001 \(embed-failed: worker failed \(exit code 3\): .*simulated system failure/);
    expect(store.loads.map((l) => l.shardId).sort()).toEqual(['test-run/shard-00000', 'test-run/shard-00002']);

    const report = await readJson<RunReport>(result.reportUri);
    expect(report.embed).toMatchObject({ status: 'FAILED', failedChildren: [{ index: 1, exitCode: 3 }] });
    expect(report.totals).toMatchObject({ entries: 25, succeeded: 15, loadedRows: 15, notProcessed: 10 });
    expect(report.failedShards).toEqual([expect.objectContaining({ shard: 'shard-00001', status: 'embed-failed' })]);
  });

  it('records a shard whose load keeps failing and fails the execution with the store’s error', async () => {
    const store = makeFakeStore({ failShards: ['test-run/shard-00002'] });
    const result = await runLocalBackfill(options({ store }));

    expect(result.status).toBe('FAILED');
    expect(result.cause).toMatch(/shard-00002 \(load-failed: Error: .*simulated commit failure for test-run\/shard-00002/);
    // The definition retries a failing load three times before recording it.
    expect(store.loads.filter((l) => l.shardId === 'test-run/shard-00002')).toHaveLength(4);
    expect(result.report).toMatchObject({ shards: { complete: 2, failed: 1 }, images: { loaded: 20 } });
  });

  it('does not retry a load that failed for good (OUTPUT_INVALID), and names it in the report', async () => {
    const store = makeFakeStore({ failShards: ['test-run/shard-00001'], failCode: 'OUTPUT_INVALID' });
    const result = await runLocalBackfill(options({ store }));
    expect(result.status).toBe('FAILED');
    expect(store.loads.filter((l) => l.shardId === 'test-run/shard-00001')).toHaveLength(1);
    expect(result.cause).toMatch(/shard-00001 \(load-failed: Vista\.OUTPUT_INVALID: .*simulated commit failure/);
  });

  it('reports an index build failure', async () => {
    const result = await runLocalBackfill(options({ store: makeFakeStore({ failIndex: true }) }));
    expect(result.status).toBe('FAILED');
    expect(result.cause).toMatch(/index build failed: Error: .*simulated index failure/);
  });

  it('hands a big table to the Batch index job, whose failure is reported', async () => {
    // The job runs the real `vista backfill index --from-env`: with nothing loaded it has no table to index.
    const result = await runLocalBackfill(options({ store: makeFakeStore({ rows: 25 }), definition: { indexJobMinRows: 10 } }));
    expect(result.status).toBe('FAILED');
    expect(result.cause).toMatch(/index build failed: States.TaskFailed: Essential container in task exited: .*no images table/);
    const report = await readJson<RunReport>(result.reportUri);
    expect(report.index).toMatchObject({ handedOff: true, rows: 25 });
  });

  it('fails at the shard step with a clear error when the manifest is missing', async () => {
    const result = await runLocalBackfill(options({ store: makeFakeStore(), manifestUri: path.join(dir, 'missing.txt') }));
    expect(result).toMatchObject({ status: 'FAILED', error: 'Vista.CONFIG_INVALID' });
    expect(result.cause).toMatch(/cannot open manifest/);
  });

  describe('runs each Task state’s own resource, not a handler picked by state name', () => {
    const params = (definition: AslDefinition, name: string) => taskStates(definition).find(([n]) => n === name)![1].Parameters as Record<string, unknown>;
    const swap = (a: string, b: string) => (definition: AslDefinition) => {
      const [pa, pb] = [params(definition, a), params(definition, b)];
      [pa.FunctionName, pb.FunctionName] = [pb.FunctionName, pa.FunctionName];
      return definition;
    };

    it('so swapping the Index and Report functions fails the run', async () => {
      const store = makeFakeStore();
      const result = await runLocalBackfill(options({ store, editDefinition: swap(BackfillState.index, BackfillState.report) }));
      expect(result).toMatchObject({ status: 'FAILED', error: 'Vista.REQUEST_INVALID' });
      expect(store.indexBuilds).toBe(0);
    });

    it('so swapping the Shard and LoadShard functions fails the run', async () => {
      const result = await runLocalBackfill(options({ store: makeFakeStore(), editDefinition: swap(BackfillState.shard, BackfillState.loadShard) }));
      expect(result).toMatchObject({ status: 'FAILED', error: 'Vista.REQUEST_INVALID' });
    });

    it('and refuses a state that names a function it does not know', async () => {
      const edit = (definition: AslDefinition) => {
        params(definition, BackfillState.report).FunctionName = 'arn:aws:lambda:us-east-1:000000000000:function:elsewhere';
        return definition;
      };
      await expect(runLocalBackfill(options({ store: makeFakeStore(), editDefinition: edit }))).rejects.toThrow(/task state Report: FunctionName .* names no known lambda/);
    });
  });
});
