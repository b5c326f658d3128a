import { ImageErrorCode, VistaError } from '../../lib/core/errors';
import { TransientError, backoffDelayMs, isTransientNetworkError, withRetries, withTimeout } from '../../lib/core/io/retry';

const policy = { retries: 3, baseDelayMs: 1, maxDelayMs: 4 };

describe('backoffDelayMs', () => {
  it('grows exponentially up to the cap, scaled by jitter', () => {
    const big = { retries: 9, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([0, 1, 2, 3, 4, 8].map((a) => backoffDelayMs(a, big, () => 0.999999))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelayMs(3, big, () => 0)).toBe(0);
  });
});

describe('withRetries', () => {
  it('retries transient failures until success', async () => {
    let calls = 0;
    const value = await withRetries(policy, async () => {
      if (++calls < 3) throw new TransientError(ImageErrorCode.FETCH_FAILED, 'slow down');
      return 'ok';
    });
    expect(value).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up after the configured retries, saying how many attempts it made', async () => {
    let calls = 0;
    const err = await withRetries(policy, async () => {
      calls++;
      throw new TransientError(ImageErrorCode.FETCH_TIMEOUT, 'too slow');
    }).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(err).toBeInstanceOf(VistaError);
    expect(err).toMatchObject({ code: ImageErrorCode.FETCH_TIMEOUT, details: { attempts: 4 } });
  });

  it('never retries a permanent failure', async () => {
    let calls = 0;
    const err = await withRetries(policy, async () => {
      calls++;
      throw new VistaError(ImageErrorCode.NOT_FOUND, 'gone');
    }).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(err).toMatchObject({ code: ImageErrorCode.NOT_FOUND });
  });
});

describe('withTimeout', () => {
  it('aborts the signal and fails with a transient FETCH_TIMEOUT, even if the operation ignores the signal', async () => {
    let seen: AbortSignal | undefined;
    const err = await withTimeout(20, 'x', (signal) => {
      seen = signal;
      return new Promise(() => undefined);
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(err).toMatchObject({ code: ImageErrorCode.FETCH_TIMEOUT });
    expect(seen?.aborted).toBe(true);
  });

  it('passes results and errors through when in time', async () => {
    await expect(withTimeout(1000, 'x', async () => 42)).resolves.toBe(42);
    await expect(withTimeout(1000, 'x', async () => { throw new Error('own'); })).rejects.toThrow('own');
  });
});

describe('isTransientNetworkError', () => {
  it('looks through cause chains', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(isTransientNetworkError(new TypeError('fetch failed', { cause: reset }))).toBe(true);
    expect(isTransientNetworkError(new Error('bad request'))).toBe(false);
  });
});
