// A stand-in for `vista worker --from-env` (local files only): reads its shard and writes a
// summary.json that counts every entry as succeeded. With --fail it fails like a worker whose
// system broke (non-zero exit, no summary).
const fs = require('node:fs');
const path = require('node:path');

const index = Number(process.env.VISTA_SHARD_OFFSET ?? 0) + Number(process.env.AWS_BATCH_JOB_ARRAY_INDEX);
const count = Number(process.env.VISTA_SHARD_COUNT);
if (index >= count) process.exit(0);
if (process.argv.includes('--fail')) {
  console.error(`vista worker: SHARD_NOT_FOUND: simulated system failure of shard ${index}`);
  process.exit(3);
}
const name = `shard-${String(index).padStart(5, '0')}`;
const lines = fs.readFileSync(path.join(process.env.VISTA_SHARDS_URI, `${name}.jsonl`), 'utf8').split('\n').filter(Boolean);
const out = path.join(process.env.VISTA_RESULTS_URI, name);
fs.mkdirSync(out, { recursive: true });
const now = new Date().toISOString();
fs.writeFileSync(
  path.join(out, 'summary.json'),
  JSON.stringify({
    shard: name, input: lines.length, succeeded: lines.length, failed: 0, failed_by_code: {}, parts: [],
    model_id: 'fake', taxonomy_id: 'fake', embedding_dim: 4, started_at: now, finished_at: now, timings_ms: {}, images_per_second: 0,
  }),
);
