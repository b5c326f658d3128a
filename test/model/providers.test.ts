import { isVistaError } from '../../lib/core/errors';
import { firstWorkingProvider, gpuPlausiblyPresent, planProviders, resolveProviderRequest } from '../../lib/core/model/providers';

const ALL = ['cpu', 'webgpu', 'cuda', 'tensorrt'];

describe('planProviders', () => {
  it('auto on a GPU host tries cuda, then webgpu, then cpu', () => {
    expect(planProviders({ requested: 'auto', available: ALL, gpuPresent: true })).toEqual({ candidates: ['cuda', 'webgpu', 'cpu'], skipped: [] });
  });

  it('auto without a GPU goes straight to cpu and says why', () => {
    const plan = planProviders({ requested: 'auto', available: ALL, gpuPresent: false });
    expect(plan.candidates).toEqual(['cpu']);
    expect(plan.skipped).toEqual([
      { provider: 'cuda', reason: 'no GPU device found' },
      { provider: 'webgpu', reason: 'no GPU device found' },
    ]);
  });

  it('skips providers this onnxruntime build does not list', () => {
    const plan = planProviders({ requested: 'auto', available: ['cpu', 'webgpu'], gpuPresent: true });
    expect(plan.candidates).toEqual(['webgpu', 'cpu']);
    expect(plan.skipped).toEqual([{ provider: 'cuda', reason: 'not available in this onnxruntime build' }]);
  });

  it('an explicit provider is tried even without a detected GPU, with cpu as fallback', () => {
    expect(planProviders({ requested: 'webgpu', available: ALL, gpuPresent: false }).candidates).toEqual(['webgpu', 'cpu']);
    expect(planProviders({ requested: 'cuda', available: ['cpu'], gpuPresent: true }).candidates).toEqual(['cpu']);
  });

  it('cpu means cpu only', () => {
    expect(planProviders({ requested: 'cpu', available: ALL, gpuPresent: true })).toEqual({ candidates: ['cpu'], skipped: [] });
  });
});

describe('resolveProviderRequest', () => {
  it('prefers the option, then VISTA_PROVIDER, then auto', () => {
    expect(resolveProviderRequest('cpu', { VISTA_PROVIDER: 'cuda' })).toBe('cpu');
    expect(resolveProviderRequest(undefined, { VISTA_PROVIDER: ' WebGPU ' })).toBe('webgpu');
    expect(resolveProviderRequest(undefined, {})).toBe('auto');
  });

  it('rejects unknown providers with CONFIG_INVALID', () => {
    try {
      resolveProviderRequest(undefined, { VISTA_PROVIDER: 'tpu' });
      throw new Error('expected a failure');
    } catch (err) {
      expect(isVistaError(err) && err.code).toBe('CONFIG_INVALID');
    }
  });
});

describe('gpuPlausiblyPresent', () => {
  const none = (): boolean => false;
  it('looks for NVIDIA or WSL GPU device nodes on Linux', () => {
    expect(gpuPlausiblyPresent({}, 'linux', none)).toBe(false);
    expect(gpuPlausiblyPresent({}, 'linux', (f) => f === '/dev/nvidia0')).toBe(true);
    expect(gpuPlausiblyPresent({}, 'linux', (f) => f === '/dev/dxg')).toBe(true);
  });
  it('trusts macOS, Windows and an explicit VISTA_PROVIDER', () => {
    expect(gpuPlausiblyPresent({}, 'darwin', none)).toBe(true);
    expect(gpuPlausiblyPresent({ VISTA_PROVIDER: 'auto' }, 'linux', none)).toBe(true);
  });
});

describe('firstWorkingProvider', () => {
  it('falls back past providers that fail to open and reports why', async () => {
    const attempt = await firstWorkingProvider(['cuda', 'webgpu', 'cpu'], async (p) => {
      if (p !== 'cpu') throw new Error(`${p} exploded\nstack…`);
      return 'session';
    });
    expect(attempt).toEqual({
      provider: 'cpu',
      value: 'session',
      failures: [
        { provider: 'cuda', reason: 'cuda exploded' },
        { provider: 'webgpu', reason: 'webgpu exploded' },
      ],
    });
  });

  it('cpu failing is a MODEL_INVALID error', async () => {
    await expect(firstWorkingProvider(['cpu'], async () => Promise.reject(new Error('bad graph')))).rejects.toMatchObject({
      code: 'MODEL_INVALID',
    });
  });
});
