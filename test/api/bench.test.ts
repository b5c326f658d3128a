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
