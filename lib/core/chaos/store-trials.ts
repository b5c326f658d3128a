/**
 * Chaos trials of the two paths that write LanceDB on S3, through the fault-injecting proxy:
 *   load    the backfill's load step (loadShard, the real store) loads two shards of synthetic
 *           worker output, then loads the first again (a retried Map iteration must be a no-op)
 *   ingest  the real-time ingest turns inbox records (new images, re-uploads of backfill images,
 *           failures) into rows over a store a backfill already filled
 * LanceDB's own S3 client (object_store) goes through the proxy too: it reads the same endpoint
 * (store/connect.ts). After the run the faults are lifted and the store is read back, image by
 * image: every image exactly once, as a row if it succeeded and as a failure record if not.
 */
import { writeShardFolder } from '../../../bench/store-data';
import { runLayout } from '../backfill/layout';
import { loadShard } from '../backfill/load-step';
import { type BackfillStore, defaultStore } from '../backfill/store-port';
import type { FaultProxy, FaultRule } from '../io/fault-s3-proxy';
import { joinUri, listNames, readText } from '../io/location';
import { ingestRealtime } from '../serving/realtime-ingest';
import { writeInboxRecord } from '../serving/realtime-inbox';
import type { EnrichResult } from '../serving/protocol';
import { TableName, openStore } from '../store/connect';

/** What a store trial found: the chaos table's columns (run-chaos.ts). */
export interface StoreTrialOutcome {
  faults: number;
  lost: number;
  doubled: number;
  wronglyFailed: number;
  hung: boolean;
  crashed: boolean;
  seconds: number;
  notes: string[];
}

export interface StoreTrialOptions {
  proxy: FaultProxy;
  rules: FaultRule[];
  /** Where the trial keeps its files and its store: s3://bucket/prefix, fresh per trial. */
  baseUri: string;
  /** A run not finished after this long is a hang. */
  deadlineMs: number;
  /** The store the load step writes through (tests pass a faulty one). @default defaultStore() */
  store?: BackfillStore;
}

const DIM = 16;
const MODEL = 'synthetic';

interface Expected {
  /** image id → the SEO filename its one row must have. */
  rows: Map<string, string>;
  /** image id → the error code its one failure record must have. */
  failures: Map<string, string>;
}

/** Runs `run` with the rules on, as one trial: counts faults, time, hang and crash. */
async function underFaults(options: StoreTrialOptions, run: () => Promise<void>): Promise<StoreTrialOutcome> {
  const { proxy } = options;
  const outcome: StoreTrialOutcome = { faults: 0, lost: 0, doubled: 0, wronglyFailed: 0, hung: false, crashed: false, seconds: 0, notes: [] };
  const before = proxy.injectedTotal();
  const started = performance.now();
  proxy.setRules(options.rules);
  let timer: NodeJS.Timeout | undefined;
  try {
    const running = run();
    const deadline = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), options.deadlineMs)));
    if ((await Promise.race([running.then(() => 'done' as const), deadline])) === 'hung') {
      outcome.hung = true;
      await running.catch(() => undefined);
    }
  } catch (err) {
    outcome.crashed = true;
    outcome.notes.push(`crash: ${(err as Error).message.slice(0, 200)}`);
  } finally {
    clearTimeout(timer);
    outcome.seconds = (performance.now() - started) / 1000;
    outcome.faults = proxy.injectedTotal() - before;
    proxy.setRules([]);
  }
  return outcome;
}

/** Reads the store back (no faults) and compares it with what each image must have. */
async function checkStore(dbUri: string, expected: Expected, notes: string[]): Promise<Pick<StoreTrialOutcome, 'lost' | 'doubled' | 'wronglyFailed'>> {
  const store = await openStore(dbUri, { readConsistencySeconds: 0 });
  let rows: { image_id: string; seo_filename: string }[] = [];
  let failures: { image_id: string; error_code: string }[] = [];
  try {
    const images = await store.table(TableName.images);
    const errors = await store.table(TableName.imageErrors);
    if (images) rows = (await images.query().select(['image_id', 'seo_filename']).toArray()) as typeof rows;
    if (errors) failures = (await errors.query().select(['image_id', 'error_code']).toArray()) as typeof failures;
  } finally {
    store.close();
  }
  const seen = new Map<string, number>();
  for (const r of [...rows, ...failures]) seen.set(r.image_id, (seen.get(r.image_id) ?? 0) + 1);
  let lost = 0;
  let doubled = 0;
  let wronglyFailed = 0;
  for (const id of [...expected.rows.keys(), ...expected.failures.keys()]) {
    const n = seen.get(id) ?? 0;
    if (n === 0) lost++;
    if (n > 1) doubled++;
  }
  for (const r of rows) {
    const name = expected.rows.get(r.image_id);
    if (name === undefined && !expected.failures.has(r.image_id)) {
      doubled++;
      notes.push(`unexpected row ${r.image_id}`);
    } else if (name === undefined || name !== r.seo_filename) {
      wronglyFailed++;
      notes.push(`${r.image_id}: row ${r.seo_filename}, expected ${name ?? 'a failure record'}`);
    }
  }
  for (const f of failures) {
    const code = expected.failures.get(f.image_id);
    if (code !== f.error_code) {
      wronglyFailed++;
      notes.push(`${f.image_id}: failure ${f.error_code}, expected ${code ?? 'a row'}`);
    }
  }
  return { lost, doubled, wronglyFailed };
}

async function writeShard(uri: string, shardId: string, seed: number, expected: Expected): Promise<void> {
  const written = await writeShardFolder(uri, { shardId, count: 30, failures: 2, partSize: 10, dim: DIM, seed, keep: true, modelId: MODEL });
  for (const row of written.kept!.rows) expected.rows.set(row.imageId, row.seoFilename);
  for (const line of (await readText(joinUri(uri, 'errors.jsonl'))).split('\n').filter(Boolean)) {
    const failure = JSON.parse(line) as { image_id: string; error_code: string };
    expected.failures.set(failure.image_id, failure.error_code);
  }
}

/** The backfill's load step: two shards, then the first again (skipped: already loaded). */
export async function loadTrial(options: StoreTrialOptions): Promise<StoreTrialOutcome> {
  const workUri = joinUri(options.baseUri, 'work');
  const dbUri = joinUri(options.baseUri, 'db');
  const runId = 'chaos-run';
  const layout = runLayout(workUri, runId);
  const expected: Expected = { rows: new Map(), failures: new Map() };
  for (const i of [0, 1]) await writeShard(layout.shardResultsUri(i), `${runId}-s${i}`, i + 1, expected);
  const store = options.store ?? defaultStore();
  const notes: string[] = [];
  const outcome = await underFaults(options, async () => {
    for (const shardIndex of [0, 1, 0]) {
      const loaded = await loadShard({ runId, workUri, dbUri, shardIndex }, store);
      if (loaded.status !== 'loaded' || loaded.loadedRows !== 30 || loaded.failedRows !== 2) {
        notes.push(`shard ${shardIndex}: ${loaded.status}, ${loaded.loadedRows} rows, ${loaded.failedRows} failed`);
      }
    }
  });
  outcome.notes.push(...notes);
  if (!outcome.hung) Object.assign(outcome, await checkStore(dbUri, expected, outcome.notes));
  return outcome;
}

function result(imageId: string, seoFilename: string, seed: number): EnrichResult {
  const embedding = Array.from({ length: DIM }, (_, i) => Math.sin(seed * 7 + i));
  const norm = Math.hypot(...embedding);
  return {
    image_id: imageId,
    source_uri: `s3://uploads/${imageId}.jpg`,
    hotel_id: 'hotel-1',
    seo_filename: seoFilename,
    tags: ['pool'],
    tag_scores: [0.9],
    embedding: embedding.map((v) => v / norm),
    width: 640,
    height: 480,
    format: 'jpeg',
    content_sha256: 'ab'.repeat(32),
    model_id: MODEL,
    taxonomy_id: 'synthetic-v1',
    processed_at: new Date().toISOString(),
  };
}

/**
 * The real-time ingest over a store a backfill filled (no faults while setting up): 20 new
 * uploads, 5 re-uploads of backfill images (their newer row must replace the backfill's), 3
 * failures. A run that throws counts as a crash; the next run (the function's next invocation)
 * then runs without faults, and the store is checked after it.
 */
export async function ingestTrial(options: StoreTrialOptions): Promise<StoreTrialOutcome> {
  const dbUri = joinUri(options.baseUri, 'db');
  const inboxUri = joinUri(options.baseUri, 'inbox');
  const batchesUri = joinUri(options.baseUri, 'batches');
  const expected: Expected = { rows: new Map(), failures: new Map() };
  const shardUri = joinUri(options.baseUri, 'backfill', 'shard-00000');
  await writeShard(shardUri, 'backfill-s0', 5, expected);
  await defaultStore().loadShardResults({ dbUri, shardResultsUri: shardUri, shardId: 'backfill/shard-00000' });

  // Stamped an hour ago, in order, so that they have settled.
  let at = Date.now() - 3_600_000;
  const stamp = () => new Date(at++);
  for (let i = 0; i < 20; i++) {
    const id = `upload-${i}`;
    await writeInboxRecord(inboxUri, id, { kind: 'result', result: result(id, `${id}.jpg`, i) }, stamp());
    expected.rows.set(id, `${id}.jpg`);
  }
  for (const id of [...expected.rows.keys()].filter((k) => k.startsWith('backfill-s0')).slice(0, 5)) {
    await writeInboxRecord(inboxUri, id, { kind: 'result', result: result(id, `reuploaded-${id}.jpg`, 99) }, stamp());
    expected.rows.set(id, `reuploaded-${id}.jpg`);
  }
  for (let i = 0; i < 3; i++) {
    const id = `upload-bad-${i}`;
    await writeInboxRecord(inboxUri, id, { kind: 'error', error: { image_id: id, source_uri: `s3://uploads/${id}.jpg`, error_code: 'CORRUPT_IMAGE', message: 'broken', at: stamp().toISOString() } }, stamp());
    expected.failures.set(id, 'CORRUPT_IMAGE');
  }

  const outcome = await underFaults(options, async () => {
    await ingestRealtime({ inboxUri, batchesUri, dbUri, settleSeconds: 0 });
  });
  if (outcome.hung) return outcome;
  if (outcome.crashed) await ingestRealtime({ inboxUri, batchesUri, dbUri, settleSeconds: 0 });
  Object.assign(outcome, await checkStore(dbUri, expected, outcome.notes));
  const left = await listNames(inboxUri);
  if (left.length > 0) {
    outcome.lost += left.length;
    outcome.notes.push(`${left.length} inbox records left after the run`);
  }
  return outcome;
}
