/**
 * The fault-injecting S3 proxy itself (each fault as a client sees it, determinism), and the S3
 * paths of Vista through it: the image source and the SDK-level reads and writes.
 */
import { ImageErrorCode, VistaError } from '../../lib/core/errors';
import { s3OperationOf, type FaultRule } from '../../lib/core/io/fault-s3-proxy';
import { isThrottled, isTransientFailure } from '../../lib/core/io/retry';
import { getObjectBytes, listObjects, putObject, resetS3Clients } from '../../lib/core/io/s3';
import { makeImageSource, type SourceConfigInput } from '../../lib/core/io/source';
import { startS3, type LocalS3 } from '../support/s3';

const FAST: SourceConfigInput = { retries: 0, throttleRetries: 0, timeoutMs: 500 };

let s3: LocalS3;
let bucket: string;
const body = Buffer.alloc(20_000, 7);

beforeAll(async () => {
  s3 = await startS3({ faults: { seed: 42 } });
  bucket = await s3.bucket('faults');
  await Promise.all(Array.from({ length: 60 }, (_, i) => putObject(`${bucket}/img/${i}.jpg`, body)));
});
afterAll(() => s3.stop());
afterEach(() => {
  s3.proxy!.setRules([]);
  resetS3Clients();
});

async function fetchFailure(rule: FaultRule, config: SourceConfigInput = FAST): Promise<VistaError> {
  s3.proxy!.setRules([rule]);
  const err = await makeImageSource(config).fetch(`${bucket}/img/0.jpg`).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(VistaError);
  return err as VistaError;
}

describe('fault proxy', () => {
  it('names S3 operations from path-style requests', () => {
    expect(s3OperationOf('GET', '/b/k/x.jpg')).toEqual({ operation: 'GetObject', key: 'k/x.jpg' });
    expect(s3OperationOf('GET', '/b?list-type=2&prefix=k')).toEqual({ operation: 'ListObjects', key: '' });
    expect(s3OperationOf('PUT', '/b/k')).toEqual({ operation: 'PutObject', key: 'k' });
    expect(s3OperationOf('POST', '/b?delete')).toEqual({ operation: 'DeleteObjects', key: '' });
    expect(s3OperationOf('HEAD', '/b/k')).toEqual({ operation: 'HeadObject', key: 'k' });
  });

  it('passes requests through unchanged when no rule applies', async () => {
    expect((await getObjectBytes(`${bucket}/img/1.jpg`)).equals(body)).toBe(true);
  });

  it('answers each fault as S3 or the network would, and the source classifies each as transient', async () => {
    const e500 = await fetchFailure({ fault: 'error500', rate: 1 });
    expect(isTransientFailure(e500) && !isThrottled(e500)).toBe(true);
    const slow = await fetchFailure({ fault: 'slowDown', rate: 1 });
    expect(isThrottled(slow)).toBe(true);
    expect(slow.message).toContain('SlowDown');
    for (const fault of ['reset', 'cutBody'] as const) {
      const err = await fetchFailure({ fault, rate: 1 });
      expect({ fault, transient: isTransientFailure(err), code: err.code }).toEqual({ fault, transient: true, code: ImageErrorCode.FETCH_FAILED });
    }
    const stalled = await fetchFailure({ fault: 'stall', rate: 1, stallMs: 2000 }, { ...FAST, timeoutMs: 200 });
    expect(stalled.code).toBe(ImageErrorCode.FETCH_TIMEOUT);
    expect(isTransientFailure(stalled)).toBe(true);
  });

  it('only faults the operations and keys its rules name, and injects the same faults for the same seed', async () => {
    const rules: FaultRule[] = [{ fault: 'error500', rate: 0.5, operations: ['GetObject'], keys: /^img\/1\d\.jpg$/ }];
    // A generous timeout: a timed-out attempt on a loaded machine would be a failure of its own.
    const patient: SourceConfigInput = { ...FAST, timeoutMs: 20_000 };
    const outcomes = async () => {
      s3.proxy!.setRules(rules);
      const source = makeImageSource(patient);
      const results: boolean[] = [];
      for (let i = 0; i < 30; i++) results.push(await source.fetch(`${bucket}/img/${i}.jpg`).then(() => true, () => false));
      return results;
    };
    const first = await outcomes();
    expect(first.slice(0, 10).every(Boolean)).toBe(true);
    expect(first.slice(20).every(Boolean)).toBe(true);
    expect(first.slice(10, 20).some((ok) => !ok)).toBe(true);
    // A second proxy with the same seed sees the same requests and fails the same ones.
    const again = await startS3({ faults: { seed: 42, rules } });
    try {
      const b = await again.bucket('faults');
      await Promise.all(Array.from({ length: 30 }, (_, i) => putObject(`${b}/img/${i}.jpg`, body)));
      const source = makeImageSource(patient);
      const second: boolean[] = [];
      for (let i = 0; i < 30; i++) second.push(await source.fetch(`${b}/img/${i}.jpg`).then(() => true, () => false));
      expect(second).toEqual(first);
    } finally {
      await again.stop();
    }
    // startS3 pointed this process at the second server; point it back.
    process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
  });

  it('SDK reads, listings and writes ride out 30% of every fault at the default settings', async () => {
    s3.proxy!.setRules([
      { fault: 'slowDown', rate: 0.1 },
      { fault: 'error500', rate: 0.1 },
      { fault: 'reset', rate: 0.05 },
      { fault: 'cutBody', rate: 0.05, operations: ['GetObject'] },
    ]);
    const before = s3.proxy!.injectedTotal();
    await Promise.all(Array.from({ length: 40 }, (_, i) => putObject(`${bucket}/w/${i}.bin`, Buffer.from(`object ${i}`))));
    const read = await Promise.all(Array.from({ length: 40 }, (_, i) => getObjectBytes(`${bucket}/w/${i}.bin`)));
    expect(read.map((b) => b.toString())).toEqual(Array.from({ length: 40 }, (_, i) => `object ${i}`));
    expect(await listObjects(`${bucket}/w/`)).toHaveLength(40);
    expect(s3.proxy!.injectedTotal() - before).toBeGreaterThan(10);
  });

  it('30% SlowDown at concurrency 64: every image fetched, and the concurrency came down', async () => {
    s3.proxy!.setRules([{ fault: 'slowDown', rate: 0.3, operations: ['GetObject'] }]);
    const source = makeImageSource({ concurrency: 64, throttleBaseDelayMs: 50 });
    const uris = Array.from({ length: 120 }, (_, i) => `${bucket}/img/${i % 60}.jpg`);
    const results = await Promise.all(uris.map((u) => source.fetch(u).then((b) => b.length, (e: Error) => e.message)));
    expect(results.filter((r) => r !== body.length)).toEqual([]);
    const stats = source.stats!();
    expect(stats.throttles).toBeGreaterThan(20);
    expect(stats.lowestLimit).toBeLessThan(64);
  });
});

describe('streamed reads', () => {
  it('a stream whose body is cut off resumes from where it stopped and gives the whole object', async () => {
    const { getObjectStream } = await import('../../lib/core/io/s3');
    const big = Buffer.from(Array.from({ length: 50_000 }, (_, i) => `line ${i}\n`).join(''));
    await putObject(`${bucket}/stream/big.txt`, big);
    s3.proxy!.setRules([{ fault: 'cutBody', rate: 0.4, operations: ['GetObject'] }]);
    for (let i = 0; i < 4; i++) {
      const chunks: Buffer[] = [];
      for await (const chunk of await getObjectStream(`${bucket}/stream/big.txt`)) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).equals(big)).toBe(true);
    }
    expect(s3.proxy!.stats().injected.cutBody).toBeGreaterThan(0);
  });
});
