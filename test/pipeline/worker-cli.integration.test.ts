/**
 * The worker as AWS Batch runs it: the real `node bin/vista.js worker` process.
 * - Its CloudWatch embedded-metric lines (what the failure-rate alarm and the dashboard read):
 *   names, namespace, dimensions and values against a shard whose outcome is known, and none
 *   again when a retried job finds the shard complete (no double counting).
 * - Exit code 1 (Batch retries it) when storage keeps failing past the S3 client's retries, and
 *   the process does exit, with one line and no stack trace.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageErrorCode } from '../../lib/core/errors';
import { writeFixtureImages, type FixtureImage } from '../support/fixtures';
import { TINY_MODEL_DIR } from '../support/models';

const VISTA = path.resolve(__dirname, '..', '..', 'bin', 'vista.js');

interface Outcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function vista(args: string[], env: Record<string, string>, timeoutMs = 90_000): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VISTA, ...args], { env: { ...process.env, VISTA_DEBUG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

interface EmfRecord {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [key: string]: unknown;
}

/** The EMF lines of stdout, each checked against the format CloudWatch Logs accepts. */
function metricLines(stdout: string): EmfRecord[] {
  const records = stdout
    .split('\n')
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as EmfRecord);
  for (const r of records) {
    expect(Number.isInteger(r._aws.Timestamp)).toBe(true);
    expect(r._aws.CloudWatchMetrics).toHaveLength(1);
    const directive = r._aws.CloudWatchMetrics[0];
    expect(directive.Namespace).toBe('Vista');
    for (const set of directive.Dimensions) for (const key of set) expect(typeof r[key]).toBe('string');
    for (const m of directive.Metrics) expect(typeof r[m.Name]).toBe('number');
  }
  return records;
}

/** One series: what CloudWatch would sum for a metric name and an exact dimension set. */
function sum(records: EmfRecord[], name: string, dimensions: Record<string, string> = {}): number {
  let total = 0;
  for (const r of records) {
    const directive = r._aws.CloudWatchMetrics[0];
    const keys = directive.Dimensions[0] ?? [];
    const sameDims = keys.length === Object.keys(dimensions).length && keys.every((k) => r[k] === dimensions[k]);
    if (sameDims && directive.Metrics.some((m) => m.Name === name)) total += r[name] as number;
  }
  return total;
}

let tmp: string;
let fixtures: FixtureImage[];

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-worker-cli-'));
  fixtures = await writeFixtureImages(path.join(tmp, 'images'));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('vista worker --from-env: CloudWatch metric lines', () => {
  it('reports the shard’s outcome exactly, and nothing again for a shard already complete', async () => {
    const shards = path.join(tmp, 'shards');
    const results = path.join(tmp, 'results');
    await fs.mkdir(shards, { recursive: true });
    const missing = path.join(tmp, 'images', 'missing.jpg');
    const lines = [...fixtures.map((f) => JSON.stringify({ uri: f.path, image_id: f.name })), JSON.stringify({ uri: missing, image_id: 'missing' })];
    await fs.writeFile(path.join(shards, 'shard-00000.jsonl'), `${lines.join('\n')}\n`);

    const good = fixtures.filter((f) => f.expect.ok).length;
    const byCode: Record<string, number> = { [ImageErrorCode.NOT_FOUND]: 1 };
    for (const f of fixtures) if (!f.expect.ok) byCode[f.expect.code] = (byCode[f.expect.code] ?? 0) + 1;
    const bad = fixtures.length + 1 - good;
    expect(good).toBeGreaterThan(0);
    expect(Object.keys(byCode).length).toBeGreaterThan(2);

    const env = {
      AWS_BATCH_JOB_ARRAY_INDEX: '0',
      VISTA_SHARD_COUNT: '1',
      VISTA_SHARDS_URI: shards,
      VISTA_RESULTS_URI: results,
      VISTA_MODEL_URI: TINY_MODEL_DIR,
      VISTA_ARTIFACTS_URI: path.join(tmp, 'artifacts'),
      VISTA_THREADS: '1',
    };
    const first = await vista(['worker', '--from-env'], env);
    expect(first.signal).toBeNull();
    expect(first.status).toBe(0);
    // The tiny model has random weights, and the worker says so (the warning was once lost under the CLI's loader).
    expect(first.stderr).toContain('USING A CLIP MODEL WITH RANDOM WEIGHTS');
    const records = metricLines(first.stdout);

    // What the failure-rate alarm divides: the series without dimensions.
    expect(sum(records, 'ImagesProcessed')).toBe(good);
    expect(sum(records, 'ImagesFailed')).toBe(bad);
    // What the dashboard's SEARCH over {Vista,ErrorCode} graphs: one series per error code.
    for (const [code, count] of Object.entries(byCode)) expect(sum(records, 'ImagesFailed', { ErrorCode: code })).toBe(count);
    const perCode = records.filter((r) => r._aws.CloudWatchMetrics[0].Dimensions[0]?.includes('ErrorCode'));
    expect(perCode).toHaveLength(Object.keys(byCode).length);
    expect(sum(records, 'ShardsCompleted')).toBe(1);
    const speed = records.find((r) => 'ImagesPerSecond' in r)!;
    expect(speed._aws.CloudWatchMetrics[0].Metrics).toContainEqual({ Name: 'ImagesPerSecond', Unit: 'Count/Second' });
    expect(speed.ImagesPerSecond as number).toBeGreaterThan(0);
    const units = new Map(records.flatMap((r) => r._aws.CloudWatchMetrics[0].Metrics.map((m) => [m.Name, m.Unit] as const)));
    expect(Object.fromEntries(units)).toEqual({ ImagesProcessed: 'Count', ImagesFailed: 'Count', ShardsCompleted: 'Count', ImagesPerSecond: 'Count/Second' });

    // Batch retried the job after the shard completed: the counts must not double.
    const again = await vista(['worker', '--from-env'], env);
    expect(again.status).toBe(0);
    expect(metricLines(again.stdout)).toEqual([]);
    expect(again.stderr).toContain('shard already complete');
  });
});

describe('vista worker: exit code 1 when storage keeps failing', () => {
  it('exits 1 (retried by Batch) after the S3 client’s retries, in one line, without hanging', async () => {
    let requests = 0;
    const failing = http.createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(500, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>');
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', () => resolve()));
    const { port } = failing.address() as AddressInfo;
    try {
      const shard = path.join(tmp, 'one.txt');
      await fs.writeFile(shard, `${fixtures.find((f) => f.expect.ok)!.path}\n`);
      const r = await vista(['worker', '--shard', shard, '--out', 's3://results/run-1/shard-00000/', '--model', TINY_MODEL_DIR, '--artifacts', path.join(tmp, 'artifacts')], {
        AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_EC2_METADATA_DISABLED: 'true',
      });
      expect(r.signal).toBeNull();
      expect(r.status).toBe(1);
      expect(requests).toBeGreaterThan(1); // the client did retry before giving up
      const errorLines = r.stderr.split('\n').filter((l) => l.startsWith('vista worker'));
      expect(errorLines).toHaveLength(1);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    } finally {
      failing.close();
    }
  });
});
