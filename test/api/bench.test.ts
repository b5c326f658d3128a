import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runApiBench } from '../../bench/api';

test('vista bench api runs end to end at a tiny size: local, concurrent clients, S3 behind a latency proxy', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-bench-api-'));
  try {
    const result = (await runApiBench({ rows: 300, dim: 32, shardRows: 150, queries: 3, clients: 5, s3: true, latencyMs: 1, workDir: dir, log: () => undefined })) as {
      local: Record<string, { p50_ms: number; n: number }>;
      concurrent: { requests: number; errors: number };
      s3: { similar: { s3_requests_per_query: number; n: number } };
    };
    expect(Object.keys(result.local)).toEqual(['similar', 'tag_browse', 'text_search']);
    for (const m of Object.values(result.local)) expect(m.n).toBe(3);
    expect(result.concurrent).toMatchObject({ requests: 100, errors: 0 });
    expect(result.s3.similar.n).toBe(3);
    expect(result.s3.similar.s3_requests_per_query).toBeGreaterThan(0);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('vista bench api with a text tower compares it on the CPU in process and behind HTTP, in alternating windows', async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ensureTestModels, TINY_MODEL_DIR } = require('../support/models') as typeof import('../support/models');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadClipModel } = require('../../lib/core/model') as typeof import('../../lib/core/model');
  await ensureTestModels();
  const model = await loadClipModel(TINY_MODEL_DIR, { logger: () => undefined });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-bench-api-'));
  try {
    const result = (await runApiBench({ rows: 200, dim: model.embedDim, shardRows: 200, queries: 3, clients: 1, model, s3: false, latencyMs: 0, workDir: dir, log: () => undefined })) as {
      text_embedding: Record<string, { window_p50s: number[]; n: number } | string | number>;
    };
    const t = result.text_embedding;
    expect(t.text_tower).toBe(model.id);
    for (const path of ['cpu_in_process', 'endpoint_http'] as const) {
      const m = t[path] as { window_p50s: number[]; n: number };
      expect(m.window_p50s).toHaveLength(3);
      expect(m.n).toBe(3);
    }
    expect(typeof t.request_overhead_p50_ms).toBe('number');
  } finally {
    await model.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
