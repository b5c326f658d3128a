/**
 * The store's writer lease, with the same code on a local folder (atomic links) and on the local
 * S3 server behind the conditional-write proxy (If-None-Match / If-Match enforced): one writer at
 * a time, a second one waits (bounded) or is refused naming the holder, the same writer's
 * operations share it, and a crashed holder's lease expires.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startConditionalS3Proxy, type ConditionalS3Proxy } from '../../lib/core/io/conditional-s3-proxy';
import { resetS3Clients } from '../../lib/core/io/s3';
import { makeLogger } from '../../lib/core/log';
import { CONDITIONAL_WRITES_ENV } from '../../lib/core/store/commit-lock';
import { conditionalObject } from '../../lib/core/store/conditional-object';
import { leaseUri, readWriterLease, withWriterLease } from '../../lib/core/store/writer-lease';
import { type LocalS3, startS3 } from '../support/s3';

let root: string;
let s3: LocalS3;
let proxy: ConditionalS3Proxy;
const saved = { endpoint: process.env.AWS_ENDPOINT_URL_S3, declared: process.env[CONDITIONAL_WRITES_ENV] };

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-lease-'));
  s3 = await startS3();
  await s3.createBucket('lease-store');
  proxy = await startConditionalS3Proxy({ upstream: s3.endpoint });
  process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
  process.env[CONDITIONAL_WRITES_ENV] = 'true';
  resetS3Clients();
});
afterAll(async () => {
  process.env.AWS_ENDPOINT_URL_S3 = saved.endpoint;
  if (saved.declared === undefined) delete process.env[CONDITIONAL_WRITES_ENV];
  else process.env[CONDITIONAL_WRITES_ENV] = saved.declared;
  resetS3Clients();
  await proxy?.stop();
  await s3?.stop();
  await fs.rm(root, { recursive: true, force: true });
});

const silent = makeLogger({ json: true, write: () => {} });
let n = 0;
const stores = () => [path.join(root, `db-${++n}`), `s3://lease-store/db-${++n}`];

describe.each(['local folder', 's3 behind the conditional proxy'])('on a %s', (where) => {
  const db = () => stores()[where === 'local folder' ? 0 : 1];

  test('the object changes only by compare-and-swap', async () => {
    const object = conditionalObject<{ v: number }>(leaseUri(db()));
    expect(await object.read()).toBeUndefined();
    const v1 = await object.create({ v: 1 });
    expect(v1).toBeDefined();
    expect(await object.create({ v: 2 })).toBeUndefined();
    const v2 = await object.replace({ v: 2 }, v1!);
    expect(v2).toBeDefined();
    expect(await object.replace({ v: 3 }, v1!)).toBeUndefined(); // stale version
    expect(await object.read()).toEqual({ value: { v: 2 }, version: v2 });
    // Of many writers replacing one version at once, exactly one wins.
    const wins = await Promise.all(Array.from({ length: 8 }, (_, i) => object.replace({ v: 10 + i }, v2!)));
    expect(wins.filter((w) => w !== undefined)).toHaveLength(1);
  });

  test('a second writer is refused at once naming the holder, or waits until the first is done', async () => {
    const store = db();
    const lines: string[] = [];
    const logger = makeLogger({ json: true, write: (l) => lines.push(l) });
    let releaseA!: () => void;
    const aHolds = new Promise<void>((resolve) => (releaseA = resolve));
    let aStarted!: () => void;
    const started = new Promise<void>((resolve) => (aStarted = resolve));
    const a = withWriterLease(store, { writer: 'run-a', operation: 'load run-a/shard-00000', logger: silent }, async () => {
      aStarted();
      await aHolds;
      return 'a';
    });
    await started;
    await expect(withWriterLease(store, { writer: 'run-b', operation: 'load run-b/shard-00000', waitMs: 0, logger }, async () => 'b')).rejects.toMatchObject({
      code: 'STORE_BUSY',
      message: expect.stringContaining('writer run-a holds its lease'),
      details: { holder: 'run-a', writer: 'run-b' },
    });
    expect(lines.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ level: 'warn', message: 'store busy: another writer holds the lease', holder: 'run-a', writer: 'run-b' })]);

    // The same writer's operations share the lease.
    expect(await withWriterLease(store, { writer: 'run-a', operation: 'load run-a/shard-00001', waitMs: 0, logger: silent }, async () => 'a2')).toBe('a2');

    const order: string[] = [];
    const b = withWriterLease(store, { writer: 'run-b', operation: 'load run-b/shard-00000', waitMs: 30_000, pollMs: 20, logger }, async () => {
      order.push('b runs');
      return 'b';
    });
    await sleep(150);
    order.push('a releases');
    releaseA();
    expect(await Promise.all([a, b])).toEqual(['a', 'b']);
    expect(order).toEqual(['a releases', 'b runs']);
    expect(lines.map((l) => JSON.parse(l).message)).toContain('store busy: waiting for another writer to release the lease');
    expect((await readWriterLease(store))?.holders).toEqual([]);
  });

  test('a crashed holder’s lease expires; a live one is renewed past its ttl', async () => {
    const store = db();
    const object = conditionalObject<unknown>(leaseUri(store));
    // A holder that died without releasing: its entry stays until it expires.
    await object.create({ writer: 'crashed-run', holders: [{ id: 'x', host: 'h', operation: 'load', expires_at: new Date(Date.now() + 2_000).toISOString() }], updated_at: '' });
    await expect(withWriterLease(store, { writer: 'next-run', operation: 'index', waitMs: 0, logger: silent }, async () => 1)).rejects.toMatchObject({ code: 'STORE_BUSY' });
    expect(await withWriterLease(store, { writer: 'next-run', operation: 'index', waitMs: 20_000, pollMs: 100, logger: silent }, async () => 2)).toBe(2);

    // Renewal: an operation longer than its ttl keeps the lease (renewed every ttl/3).
    const long = withWriterLease(store, { writer: 'slow-run', operation: 'compaction', ttlMs: 1_200, logger: silent }, () => sleep(3_000).then(() => 'done'));
    await sleep(2_000);
    await expect(withWriterLease(store, { writer: 'other', operation: 'load', waitMs: 0, logger: silent }, async () => 0)).rejects.toMatchObject({ details: { holder: 'slow-run' } });
    expect(await long).toBe('done');
  });

  test('writers racing for a free lease: never two at once, each gets its turn', async () => {
    const store = db();
    let inside = 0;
    let most = 0;
    const ran: string[] = [];
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        withWriterLease(store, { writer: `run-${i}`, operation: 'load', waitMs: 30_000, pollMs: 10, logger: silent }, async () => {
          most = Math.max(most, ++inside);
          await sleep(30);
          inside--;
          ran.push(`run-${i}`);
        }),
      ),
    );
    expect(most).toBe(1);
    expect(ran.sort()).toEqual(['run-0', 'run-1', 'run-2', 'run-3', 'run-4']);
  });
});
