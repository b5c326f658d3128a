/**
 * `vista bench ingest`: the real-time ingest on local disk. N inbox records (512-d results as the
 * upload function writes them, 2% failures) into a store that already holds a backfill shard, then
 * a second round in which a tenth of the images are uploaded again (supersede deletes their older
 * rows). Reports records/s per round and per step, and checks that every image has exactly one row.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { mapWithConcurrency } from '../lib/core/io/concurrency';
import { ingestRealtime } from '../lib/core/serving/realtime-ingest';
import { writeInboxRecord } from '../lib/core/serving/realtime-inbox';
import type { EnrichResult } from '../lib/core/serving/protocol';
import { TableName, openStore } from '../lib/core/store/connect';
import { loadShardResults } from '../lib/core/store/loader';
import { writeSyntheticShardResults } from '../test/support/results';
import { summarize } from './windows';

const BENCH_MODEL_ID = 'vit-b-32@bench';

export interface IngestBenchOptions {
  records: number;
  dim: number;
  workDir: string;
  /** Whole runs (fresh store each), for min and median. */
  repeats: number;
  log: (message: string) => void;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

function seededUnitVector(seed: number, dim: number): number[] {
  let state = seed * 2654435761 + 1;
  const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const v = Array.from({ length: dim }, next);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

function result(id: string, dim: number, round: number): EnrichResult {
  return {
    image_id: id,
    source_uri: `s3://uploads/uploads/${id}.jpg`,
    hotel_id: `hotel-${Number(id.split('-')[1]) % 500}`,
    seo_filename: `ocean-view-balcony-${id}-r${round}.jpg`,
    tags: ['ocean-view', 'balcony', 'king-bed'],
    tag_scores: [0.81, 0.66, 0.52],
    embedding: seededUnitVector(Number(id.split('-')[1]) + round * 1_000_003, dim),
    width: 1600,
    height: 1067,
    format: 'jpeg',
    content_sha256: 'ab'.repeat(32),
    model_id: BENCH_MODEL_ID,
    taxonomy_id: 'hotel@bench',
    processed_at: new Date().toISOString(),
  };
}

/** 2% of the images fail, the same ones in every round. */
const isFailure = (id: string) => Number(id.split('-')[1]) % 50 === 49;

async function fillInbox(inbox: string, ids: string[], dim: number, round: number): Promise<void> {
  const at = new Date(Date.now() - 120_000);
  await mapWithConcurrency(ids, 32, async (id) => {
    if (isFailure(id)) {
      await writeInboxRecord(inbox, id, { kind: 'error', error: { image_id: id, source_uri: `s3://uploads/uploads/${id}.jpg`, error_code: 'CORRUPT_IMAGE', message: 'bench', at: at.toISOString() } }, at);
    } else {
      await writeInboxRecord(inbox, id, { kind: 'result', result: result(id, dim, round) }, at);
    }
  });
}

/** `repeats` whole runs, each on a fresh store: records/s per round as min and median. */
export async function runIngestBench(o: IngestBenchOptions) {
  const runs: Awaited<ReturnType<typeof runIngestOnce>>[] = [];
  for (let r = 0; r < Math.max(1, o.repeats); r++) {
    o.log(`run ${r + 1} of ${Math.max(1, o.repeats)}`);
    runs.push(await runIngestOnce(o));
  }
  const last = runs[runs.length - 1];
  const perRound = last.rounds.map((_, i) => {
    const rates = runs.map((run) => run.rounds[i].records_per_second);
    return { ...summarize(rates, runs.reduce((n, run) => n + run.rounds[i].records, 0), runs.reduce((n, run) => n + run.rounds[i].seconds, 0)), records: last.rounds[i].records };
  });
  return {
    ...last,
    method: { repeats: runs.length, note: 'each window is one whole ingest run of the round (fresh store); records/s min and median over runs' },
    records_per_second_by_round: perRound,
    runs: runs.map((run) => run.rounds),
  };
}

async function runIngestOnce(o: IngestBenchOptions) {
  await fs.rm(o.workDir, { recursive: true, force: true });
  const inbox = path.join(o.workDir, 'inbox');
  const batches = path.join(o.workDir, 'batches');
  const db = path.join(o.workDir, 'db');

  o.log('a backfill shard of 10,000 rows in the store first');
  // The store refuses another model's rows: the backfill shard and the uploads share one model.
  const shard = await writeSyntheticShardResults(path.join(o.workDir, 'results', 'shard-00000'), { shardId: 'bench/shard-00000', count: 10_000, dim: o.dim, seed: 7, modelId: BENCH_MODEL_ID });
  await loadShardResults({ dbUri: db, shardResultsUri: shard.dir, shardId: shard.shardId });

  const ids = Array.from({ length: o.records }, (_, i) => `rt-${i}`);
  const rounds = [];
  for (const [n, roundIds] of [ids, ids.filter((_, i) => i % 10 === 0)].entries()) {
    o.log(`round ${n + 1}: ${roundIds.length} inbox records`);
    await fillInbox(inbox, roundIds, o.dim, n + 1);
    const t0 = performance.now();
    const run = await ingestRealtime({ inboxUri: inbox, batchesUri: batches, dbUri: db, settleSeconds: 0 });
    const seconds = (performance.now() - t0) / 1000;
    rounds.push({
      records: roundIds.length,
      batches: run.batches.length,
      seconds: round(seconds, 2),
      records_per_second: round(roundIds.length / seconds),
      rows: run.batches.reduce((s, b) => s + b.rows, 0),
      failed: run.batches.reduce((s, b) => s + b.failed, 0),
      superseded_rows: run.batches.reduce((s, b) => s + b.superseded.images, 0),
    });
  }

  const store = await openStore(db, { readConsistencySeconds: 0 });
  try {
    const images = (await store.table(TableName.images))!;
    const total = await images.countRows();
    const rows = (await images.query().where(`image_id LIKE 'rt-%'`).select(['image_id']).toArray()) as { image_id: string }[];
    const realtime = rows.length;
    const expected = ids.filter((id) => !isFailure(id)).length;
    if (realtime !== expected || new Set(rows.map((r) => r.image_id)).size !== expected) {
      throw new Error(`expected ${expected} real-time rows, one per image; found ${realtime}`);
    }
    return { records: o.records, dim: o.dim, rounds, rows_after: { total, realtime, backfill: total - realtime }, exactly_one_row_per_image: true };
  } finally {
    store.close();
  }
}
