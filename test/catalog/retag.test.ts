/**
 * Re-tagging from stored embeddings: the worker's own tags come back from its stored embeddings,
 * and a re-tag cut short then run again ends exactly where a clean run does.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readArrowFile } from '../../lib/core/pipeline/arrow-rows';
import { imagesTable } from '../../lib/core/catalog/scan';
import { retagStore, type RetagOptions } from '../../lib/core/catalog/retag';
import { silentLogger } from '../../lib/core/log';
import { createWorker } from '../../lib/core/pipeline/worker';
import { parseWorkerConfig } from '../../lib/core/pipeline/worker-config';
import { openStore } from '../../lib/core/store/connect';
import { loadShardResults } from '../../lib/core/store/loader';
import { defaultTaxonomy, getLabelBank, makeTagger, parseTaxonomy, taxonomyId } from '../../lib/core/tags';
import { writeFixtureImages } from '../support/fixtures';
import { TINY_MODEL_DIR } from '../support/models';
import { captured, loadedStore } from './support';
import { command as retag } from '../../lib/cli/commands/retag';
import { syntheticBank, syntheticTaxonomy } from './synthetic-bank';

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-retag-'));
});
afterAll(() => fs.rm(root, { recursive: true, force: true }));

type Row = { image_id: string; tags: string[]; tag_scores: number[]; taxonomy_id: string; seo_filename: string; model_id: string };

async function storedRows(db: string): Promise<Map<string, Row>> {
  const store = await openStore(db, { readConsistencySeconds: 0 });
  try {
    const rows = (await (await imagesTable(store)).query().select(['image_id', 'tags', 'tag_scores', 'taxonomy_id', 'seo_filename', 'model_id']).toArray()) as Record<string, unknown>[];
    return new Map(
      rows.map((r) => [
        r.image_id as string,
        { ...(r as unknown as Row), tags: [...(r.tags as Iterable<string>)], tag_scores: [...(r.tag_scores as Iterable<number>)] },
      ]),
    );
  } finally {
    store.close();
  }
}

test('re-tagging the stored embeddings gives back the tags and scores the worker gave', async () => {
  const lowThresholds = parseTaxonomy({ ...defaultTaxonomy(), id: 'hotel-low', categories: defaultTaxonomy().categories.map((c) => ({ ...c, threshold: 0.05, labels: c.labels.map((l) => ({ ...l, threshold: undefined })) })) });
  const taxonomyFile = path.join(root, 'low.json');
  await fs.writeFile(taxonomyFile, JSON.stringify(lowThresholds));
  const artifacts = path.join(root, 'artifacts');
  const worker = await createWorker(parseWorkerConfig({ model: TINY_MODEL_DIR, artifacts, taxonomy: taxonomyFile, batchSize: 4, partSize: 50 }), silentLogger);
  try {
    const fixtures = (await writeFixtureImages(path.join(root, 'images'))).filter((f) => f.expect.ok);
    const shard = path.join(root, 'shard.jsonl');
    await fs.writeFile(shard, fixtures.map((f, i) => JSON.stringify({ uri: f.path, image_id: `img-${i}`, hotel_id: 'h1' })).join('\n'));
    const out = path.join(root, 'out');
    await worker.processShard(shard, out);
    const workerRows = new Map<string, Row>();
    for (const name of (await fs.readdir(out)).filter((n) => n.endsWith('.arrow'))) {
      for (const row of readArrowFile(await fs.readFile(path.join(out, name)))) {
        const r = row!.toJSON() as Record<string, unknown>;
        workerRows.set(r.image_id as string, { ...(r as unknown as Row), tags: [...(r.tags as Iterable<string>)], tag_scores: [...(r.tag_scores as Iterable<number>)] });
      }
    }
    const tagged = [...workerRows.values()].filter((r) => r.tags.length > 0).length;
    expect(tagged).toBeGreaterThan(workerRows.size / 2); // low thresholds: the comparison is not of empty lists

    const bank = await getLabelBank(worker.model, lowThresholds, artifacts);
    for (const precision of ['float32', 'float16'] as const) {
      const db = path.join(root, `db-${precision}`);
      await loadShardResults({ dbUri: db, shardResultsUri: out, shardId: 'shard-0', embeddingPrecision: precision });
      // Overwrite what the worker wrote so that equality below is earned by the re-tag.
      const store = await openStore(db);
      try {
        await (await imagesTable(store)).update({ where: 'true', values: { taxonomy_id: 'stale' } });
        const report = await retagStore({ store, taxonomy: lowThresholds, bank, logitScale: worker.model.logitScale });
        expect(report).toMatchObject({ units: 1, rows: workerRows.size, skippedUnits: 0, renamed: 0 });
      } finally {
        store.close();
      }
      const retagged = await storedRows(db);
      const tolerance = precision === 'float32' ? 1e-6 : 5e-3;
      for (const [id, expected] of workerRows) {
        const got = retagged.get(id)!;
        expect(got.taxonomy_id).toBe(taxonomyId(lowThresholds));
        expect(got.seo_filename).toBe(expected.seo_filename);
        if (precision === 'float32') expect(got.tags).toEqual(expected.tags);
        else expect(new Set(got.tags)).toEqual(new Set(expected.tags)); // float16 may swap near-equal scores
        const scoreOf = (r: Row) => new Map(r.tags.map((t, i) => [t, r.tag_scores[i]]));
        for (const [tag, score] of scoreOf(expected)) expect(Math.abs(scoreOf(got).get(tag)! - score)).toBeLessThan(tolerance);
      }
    }

    // The command: a finished run is a no-op; another taxonomy with --rename writes the rename map.
    const db = path.join(root, 'db-float16');
    const rerun = await captured(() => retag.run({ db, taxonomy: taxonomyFile, model: TINY_MODEL_DIR, cache: artifacts, json: true }, []));
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.out)).toMatchObject({ skippedUnits: 1, randomWeights: true });
    expect(rerun.err).toMatch(/RANDOM WEIGHTS/);
    const renameDir = path.join(root, 'renames');
    const renamed = await captured(() => retag.run({ db, taxonomy: 'lib/core/tags/default-taxonomy.json', model: TINY_MODEL_DIR, cache: artifacts, rename: true, out: renameDir }, []));
    expect(renamed.code).toBe(0);
    expect(renamed.out).toMatch(/^taxonomy hotel@\w+: \d+ rows in 1 shards \(0 already done\), \d+ renamed/);
    const map = (await fs.readFile(path.join(renameDir, 'rename-map.csv'), 'utf8')).trim().split('\n');
    expect(map[0]).toBe('source_uri,image_id,hotel_id,old_seo_filename,seo_filename');
    const after = await storedRows(db);
    for (const line of map.slice(1)) {
      const [, id, , oldName, newName] = line.split(',');
      expect(oldName).toBe(workerRows.get(id)!.seo_filename);
      expect(after.get(id)!.seo_filename).toBe(newName);
    }
    expect((await captured(() => retag.run({ db, taxonomy: taxonomyFile, rename: true }, []))).code).toBe(2);
  } finally {
    await worker.close();
  }
});

async function copyDir(from: string, to: string): Promise<void> {
  await fs.cp(from, to, { recursive: true });
}

test('a re-tag killed halfway and run again ends the same as a clean run; reruns are no-ops', async () => {
  const base = path.join(root, 'halfway');
  const { db } = await loadedStore(base, [
    { id: 'shard-a', count: 40, seed: 1 },
    { id: 'shard-b', count: 40, seed: 2 },
    { id: 'shard-c', count: 40, seed: 3 },
    { id: 'shard-d', count: 40, seed: 4 },
  ]);
  const taxonomy = syntheticTaxonomy(0.3);
  const bank = syntheticBank(taxonomy, 32);
  const options = (store: RetagOptions['store'], renameDir: string): RetagOptions => ({ store, taxonomy, bank, logitScale: 100, rename: true, renameDir });

  const cleanDb = path.join(root, 'clean-db');
  await copyDir(db, cleanDb);
  const cleanStore = await openStore(cleanDb, { readConsistencySeconds: 0 });
  const clean = await retagStore(options(cleanStore, path.join(root, 'clean-renames'))).finally(() => cleanStore.close());
  expect(clean.rows).toBe(160);
  expect(clean.renamed).toBeGreaterThan(0);
  const afterTotal = clean.labels.reduce((n, l) => n + l.after, 0);
  expect(afterTotal).toBeGreaterThan(0);
  expect(clean.labels.find((l) => l.tag === 'pool')).toBeDefined();

  // Killed twice: once between shard-b's commit and its ledger row, once before shard-c's commit.
  const renames = path.join(root, 'killed-renames');
  for (const killAt of ['shard-b', 'shard-c']) {
    const store = await openStore(db, { readConsistencySeconds: 0 });
    await expect(
      retagStore({
        ...options(store, renames),
        withWriterLease: async (current, commit) => {
          if (killAt === 'shard-c' && current === 'shard-c') throw new Error('killed before commit');
          const result = await commit();
          if (killAt === 'shard-b' && current === 'shard-b') throw new Error('killed after commit');
          return result;
        },
      }),
    ).rejects.toThrow(/killed/);
    store.close();
  }
  const store = await openStore(db, { readConsistencySeconds: 0 });
  const resumed = await retagStore(options(store, renames)).finally(() => store.close());
  expect(resumed.skippedUnits).toBe(2); // shard-a, and shard-b redone by the second run
  expect(resumed.labels).toEqual(clean.labels);
  expect(resumed.renamed).toBe(clean.renamed);
  expect(await storedRows(db)).toEqual(await storedRows(cleanDb));
  const sortedLines = async (file: string) => (await fs.readFile(file, 'utf8')).trim().split('\n').sort();
  expect(await sortedLines(resumed.renameMap!)).toEqual(await sortedLines(clean.renameMap!));

  const again = await openStore(db, { readConsistencySeconds: 0 });
  const rerun = await retagStore(options(again, renames)).finally(() => again.close());
  expect(rerun.skippedUnits).toBe(4);
  expect(rerun.labels).toEqual(clean.labels);
});

test('re-tagging refuses a label bank made with another model', async () => {
  const { db } = await loadedStore(path.join(root, 'other-model'), [{ id: 'shard-a', count: 10, seed: 1 }]);
  const taxonomy = syntheticTaxonomy();
  const store = await openStore(db);
  try {
    await expect(retagStore({ store, taxonomy, bank: syntheticBank(taxonomy, 32, 'clip-other'), logitScale: 100 })).rejects.toMatchObject({ code: 'MODEL_INVALID' });
  } finally {
    store.close();
  }
  // The scorer is the worker's: a tagger from the same bank is what the re-tag used.
  expect(makeTagger(syntheticBank(taxonomy, 32), taxonomy, 100).tag(new Float32Array(32).fill(0.1)).tags.length).toBeGreaterThanOrEqual(0);
});
