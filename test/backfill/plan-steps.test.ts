/**
 * The planning steps on their own (each as its Lambda runs it): inventories without a duplicate
 * pass, manifests deduplicated exactly across files by hash partitions, every line counted,
 * deterministic shards, and a run that cannot be re-planned from other inputs.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { readBackfillConfig } from '../../lib/core/backfill/config';
import { writeInventory } from '../../lib/core/backfill/demo/inventory';
import { runLayout } from '../../lib/core/backfill/layout';
import { finishRunPlan, startPlan } from '../../lib/core/backfill/plan-run';
import { decodeInventoryKey, parseCsvLine, type PlanSource } from '../../lib/core/backfill/plan-inputs';
import { DEFAULT_FILTER, dedupPartition, finishPlan, planInputs, splitInput, type PlanSettings, type PlanSummary } from '../../lib/core/backfill/plan-steps';
import { planWaves } from '../../lib/core/backfill/waves';
import { imageIdFromUri } from '../../lib/core/image-id';
import { readText } from '../../lib/core/io/location';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-plan-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const settings = (overrides: Partial<PlanSettings> = {}): PlanSettings => ({
  shardSize: 4,
  maxArraySize: 10_000,
  waveConcurrency: 3,
  partitionBytes: 256 * 1024 ** 2,
  filter: DEFAULT_FILTER,
  ...overrides,
});

/** The planning steps in the order the state machine runs them. */
async function plan(source: PlanSource, s: PlanSettings, runId = 'r1'): Promise<PlanSummary> {
  const work = path.join(dir, 'work');
  const inputs = await planInputs(work, runId, source, s);
  for (let i = 0; i < inputs.files.length; i++) await splitInput(work, runId, i);
  for (let p = 0; p < inputs.partitions; p++) await dedupPartition(work, runId, p);
  return finishPlan(work, runId);
}

async function shards(summary: PlanSummary, runId = 'r1'): Promise<{ uri: string; image_id: string }[][]> {
  const layout = runLayout(path.join(dir, 'work'), runId);
  const out = [];
  for (let i = 0; i < summary.shardCount; i++) out.push((await readText(layout.shardUri(i))).trim().split('\n').map((l) => JSON.parse(l)));
  return out;
}

const uris = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `s3://photos/h/${from + i}.jpg`);

describe('planning a manifest', () => {
  it('keeps manifest order in one partition, drops duplicates (first wins), counts every line', async () => {
    const lines = [...uris(0, 5), '', 'not a uri with spaces', 's3://photos/h/2.jpg', JSON.stringify({ uri: 's3://p/a.jpg', image_id: 'img-a', hotel_name: 'Hôtel Côte d’Azur' }), ...uris(5, 8)];
    const manifest = path.join(dir, 'm.jsonl');
    await fs.writeFile(manifest, lines.join('\n'));
    const summary = await plan({ kind: 'manifest', uri: manifest }, settings({ partitions: 1 }));

    expect(summary).toMatchObject({ lines: 12, blankLines: 1, entries: 9, shardCount: 3, invalid: { count: 1 }, duplicates: { count: 1 } });
    expect(summary.lines).toBe(summary.entries + summary.blankLines + summary.invalid.count + summary.duplicates.count + summary.filtered);
    expect(summary.duplicates.examples[0]).toMatchObject({ file: manifest, line: 8, uri: 's3://photos/h/2.jpg' });
    // Every invalid line is listed with its reason, not only the examples.
    expect(summary.invalidLinesUris).toHaveLength(1);
    const listed = (await readText(summary.invalidLinesUris[0])).trim().split('\n').map((l) => JSON.parse(l));
    expect(listed).toEqual([{ file: manifest, line: 7, reason: 'a plain-text line must be a single URI', text: 'not a uri with spaces' }]);
    const all = (await shards(summary)).flat();
    expect(all.map((e) => e.uri)).toEqual([...uris(0, 5), 's3://p/a.jpg', ...uris(5, 8)]);
    expect(all[5]).toEqual({ uri: 's3://p/a.jpg', image_id: 'img-a', hotel_name: 'Hôtel Côte d’Azur' });
    expect(all[0].image_id).toBe(imageIdFromUri(uris(0, 1)[0]));
  });

  it('finds duplicates across the files of a prefix exactly, whatever partition they hash to', async () => {
    const prefix = path.join(dir, 'manifests');
    await fs.mkdir(prefix);
    await fs.writeFile(path.join(prefix, 'a.txt'), uris(0, 30).join('\n'));
    await fs.writeFile(path.join(prefix, 'b.txt.gz'), gzipSync(uris(20, 50).join('\n')));
    await fs.writeFile(path.join(prefix, 'c.jsonl'), uris(45, 60).map((uri) => JSON.stringify({ uri })).join('\n'));
    await fs.writeFile(path.join(prefix, '_ignored.json'), '{}');
    const summary = await plan({ kind: 'prefix', uri: prefix }, settings({ partitions: 3, shardSize: 7 }));

    expect(summary).toMatchObject({ inputFiles: 3, partitions: 3, lines: 75, entries: 60, duplicates: { count: 15 } });
    const all = (await shards(summary)).flat().map((e) => e.uri);
    expect(all.sort()).toEqual(uris(0, 60).sort());
    expect(new Set(all).size).toBe(60);
  });

  it('bounds a partition larger than planned by passes over its spill: the same entries, first occurrence kept', async () => {
    const prefix = path.join(dir, 'manifests');
    await fs.mkdir(prefix);
    await fs.writeFile(path.join(prefix, 'a.txt'), uris(0, 40).join('\n'));
    await fs.writeFile(path.join(prefix, 'b.txt'), [...uris(30, 60), ...uris(0, 5)].join('\n'));
    const work = path.join(dir, 'work');
    const inputs = await planInputs(work, 'r1', { kind: 'prefix', uri: prefix }, settings({ partitions: 1, shardSize: 1000 }));
    for (let i = 0; i < inputs.files.length; i++) await splitInput(work, 'r1', i);
    const outcome = await dedupPartition(work, 'r1', 0, { passSpillBytes: 1024 });

    expect(outcome.spillBytes).toBeGreaterThan(4 * 1024);
    expect(outcome.passes).toBe(Math.ceil(outcome.spillBytes! / 1024));
    expect(outcome).toMatchObject({ entries: 60, duplicates: { count: 15 } });
    // Every duplicate reported is a later copy: file b, never the first occurrence in file a.
    expect(outcome.duplicates.examples.every((e) => e.file.endsWith('b.txt'))).toBe(true);
    const summary = await finishPlan(work, 'r1');
    const kept = (await shards(summary)).flat().map((e) => e.uri);
    expect(kept.sort()).toEqual(uris(0, 60).sort());
    expect(new Set(kept).size).toBe(60);
  });

  it('sizes partitions from the measured expansion of gzip manifests, not the assumed one', async () => {
    const prefix = path.join(dir, 'manifests');
    await fs.mkdir(prefix);
    const text = uris(0, 20_000).map((uri) => JSON.stringify({ uri })).join('\n');
    const gz = gzipSync(text);
    await fs.writeFile(path.join(prefix, 'a.jsonl.gz'), gz);
    const inputs = await planInputs(path.join(dir, 'work'), 'r1', { kind: 'prefix', uri: prefix }, settings({ partitionBytes: 64 * 1024 }));
    const expansion = text.length / gz.length;
    expect(expansion).toBeGreaterThan(5);
    expect(inputs.gzipExpansion).toBeCloseTo(expansion, 0);
    expect(inputs.partitions).toBe(Math.ceil((gz.length * inputs.gzipExpansion!) / (64 * 1024)));
  });

  it('writes byte-identical shards again, and refuses to re-plan a run from other inputs', async () => {
    const manifest = path.join(dir, 'm.txt');
    await fs.writeFile(manifest, uris(0, 10).join('\n'));
    const first = await plan({ kind: 'manifest', uri: manifest }, settings({ partitions: 2 }), 'a');
    const second = await plan({ kind: 'manifest', uri: manifest }, settings({ partitions: 2 }), 'b');
    expect(await shards(second, 'b')).toEqual(await shards(first, 'a'));
    expect(await plan({ kind: 'manifest', uri: manifest }, settings({ partitions: 2 }), 'a')).toEqual(first);
    await expect(plan({ kind: 'manifest', uri: manifest }, settings({ partitions: 2, shardSize: 5 }), 'a')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('fails clearly on a manifest without entries, or a missing one', async () => {
    const empty = path.join(dir, 'empty.txt');
    await fs.writeFile(empty, '\n\n');
    await expect(plan({ kind: 'manifest', uri: empty }, settings())).rejects.toThrow(/no valid entries/);
    await expect(plan({ kind: 'manifest', uri: path.join(dir, 'nope.txt') }, settings(), 'r2')).rejects.toThrow(/cannot open manifest/);
  });
});

describe('planning an S3 Inventory report', () => {
  it('reads its CSV.gz data files from manifest.json, decodes keys, filters, and does no duplicate pass', async () => {
    const keys = [
      ['photos/a b.jpg', 'photos/c+d.JPEG', 'photos/readme.txt', 'other/x.jpg'],
      ['photos/é 1.png', 'photos/(2).webp', 'photos/dir/'],
      ['photos/last one.jpg'],
    ];
    const inventory = await writeInventory({ destinationUri: path.join(dir, 'inventory-bucket'), sourceBucket: 'hotel-photos', files: keys });
    const summary = await plan({ kind: 'inventory', uri: inventory.manifestUri }, settings({ filter: { keyPrefix: 'photos/', suffixes: DEFAULT_FILTER.suffixes } }));

    expect(summary).toMatchObject({ inputFiles: 3, partitions: 0, lines: 8, filtered: 3, entries: 5, duplicates: { count: 0 }, invalid: { count: 0 } });
    // Inventory order, chunked per data file: no shard spans two files.
    expect((await shards(summary)).map((s) => s.map((e) => e.uri))).toEqual([
      ['s3://hotel-photos/photos/a b.jpg', 's3://hotel-photos/photos/c+d.JPEG'],
      ['s3://hotel-photos/photos/é 1.png', 's3://hotel-photos/photos/(2).webp'],
      ['s3://hotel-photos/photos/last one.jpg'],
    ]);
    const dataFile = JSON.parse(await readText(inventory.manifestUri)).files[0].key as string;
    expect(dataFile).toMatch(/^vista-inventory\/hotel-photos\/all-objects\/data\/.*\.csv\.gz$/);
  });

  it('decodes S3 Inventory keys (a space is + or %20, a plus is %2B) and parses quoted CSV', () => {
    expect(decodeInventoryKey('photos/a+b%2Bc%20d.jpg')).toBe('photos/a b+c d.jpg');
    expect(parseCsvLine('"b","k%2C1","",x,"say ""hi"""')).toEqual(['b', 'k%2C1', '', 'x', 'say "hi"']);
  });

  it('refuses a Parquet or ORC report with a clear error', async () => {
    const inventory = await writeInventory({ destinationUri: path.join(dir, 'inv'), sourceBucket: 'b', files: [['a.jpg']] });
    const manifest = JSON.parse(await readText(inventory.manifestUri));
    await fs.writeFile(inventory.manifestUri, JSON.stringify({ ...manifest, fileFormat: 'Parquet' }));
    await expect(plan({ kind: 'inventory', uri: inventory.manifestUri }, settings())).rejects.toThrow(/only CSV inventories/);
  });
});

describe('waves', () => {
  it('cuts shards into array jobs of at most maxArraySize children, each at least 2', () => {
    expect(planWaves('r', 7, 3).map((w) => [w.firstShard, w.shardCount, w.arraySize, w.jobName])).toEqual([
      [0, 3, 3, 'vista-backfill-r-w0'],
      [3, 3, 3, 'vista-backfill-r-w1'],
      [6, 1, 2, 'vista-backfill-r-w2'],
    ]);
    expect(planWaves('r', 25_000, 10_000).map((w) => w.shardCount)).toEqual([10_000, 10_000, 5_000]);
    expect(() => planWaves('r', 5, 10_001)).toThrow(RangeError);
  });
});



describe('what one execution can carry', () => {
  it('refuses more shards or input files than its state holds, naming the shard size that fits', async () => {
    const manifests = path.join(dir, 'limits');
    await fs.mkdir(manifests, { recursive: true });
    for (const f of [0, 1, 2]) await fs.writeFile(path.join(manifests, `m${f}.txt`), uris(f * 10, f * 10 + 10).join('\n'));
    const input = { manifestPrefix: manifests, workUri: path.join(dir, 'work'), dbUri: path.join(dir, 'db'), shardSize: 4, partitions: 1 };
    await expect(startPlan({ input: { ...input, runId: 'files' }, executionName: 'files' }, readBackfillConfig({}), { maxInputFiles: 2 })).rejects.toThrow(
      /3 input files; one execution takes at most 2/,
    );
    const { state } = await startPlan({ input: { ...input, runId: 'shards' }, executionName: 'shards' }, readBackfillConfig({}));
    for (const i of state.inputIndexes) await splitInput(state.workUri, 'shards', i);
    for (const p of state.partitionIndexes) await dedupPartition(state.workUri, 'shards', p);
    // 30 entries in shards of 4: 8 shards.
    await expect(finishRunPlan(state, { maxShards: 5 })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/8 shards of 4; .* at most 5 .* shard size of at least 6$/) });
    expect((await finishRunPlan(state, { maxShards: 8 })).plan.shardCount).toBe(8);
  });
});
