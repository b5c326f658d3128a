/**
 * Which ONNX Runtime execution provider runs the model. 'auto' prefers cuda, then webgpu, then
 * cpu, but only tries a GPU provider that this onnxruntime build lists AND when a GPU is plausibly
 * there: probing webgpu on a CPU-only host costs seconds and can "succeed" into a software
 * adapter. A provider counts as working once sessions are created on it; otherwise we fall back.
 */
import { existsSync } from 'node:fs';
import { SystemErrorCode, VistaError } from '../errors';
import type { ExecutionProviderName } from '../types';

export type ProviderRequest = 'auto' | ExecutionProviderName;
export const PROVIDER_REQUESTS: readonly ProviderRequest[] = ['auto', 'cuda', 'webgpu', 'cpu'];
const GPU_PREFERENCE: ExecutionProviderName[] = ['cuda', 'webgpu'];

export interface ProviderPlanInput {
  requested: ProviderRequest;
  /** Backend names from ort.listSupportedBackends(). */
  available: readonly string[];
  gpuPresent: boolean;
}

export interface ProviderSkip {
  provider: ExecutionProviderName;
  reason: string;
}

export interface ProviderPlan {
  /** Providers to try in order; always ends with 'cpu'. */
  candidates: ExecutionProviderName[];
  skipped: ProviderSkip[];
}

export function planProviders({ requested, available, gpuPresent }: ProviderPlanInput): ProviderPlan {
  const skipped: ProviderSkip[] = [];
  const candidates: ExecutionProviderName[] = [];
  const wanted = requested === 'auto' ? GPU_PREFERENCE : requested === 'cpu' ? [] : [requested];
  for (const provider of wanted) {
    if (!available.includes(provider)) skipped.push({ provider, reason: 'not available in this onnxruntime build' });
    else if (requested === 'auto' && !gpuPresent) skipped.push({ provider, reason: 'no GPU device found' });
    else candidates.push(provider);
  }
  candidates.push('cpu');
  return { candidates, skipped };
}

/** The request from options, else env VISTA_PROVIDER, else 'auto'. */
export function resolveProviderRequest(option: ProviderRequest | undefined, env: NodeJS.ProcessEnv = process.env): ProviderRequest {
  const value = option ?? (env.VISTA_PROVIDER?.trim().toLowerCase() || 'auto');
  if (!PROVIDER_REQUESTS.includes(value as ProviderRequest)) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `unknown execution provider "${value}" (expected ${PROVIDER_REQUESTS.join(', ')})`);
  }
  return value as ProviderRequest;
}

/**
 * A cheap guess that a GPU exists: an NVIDIA device node, WSL's GPU bridge, macOS (Metal) or
 * Windows (D3D12), or an explicit VISTA_PROVIDER (the operator says so).
 */
export function gpuPlausiblyPresent(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  fileExists: (file: string) => boolean = existsSync,
): boolean {
  if (env.VISTA_PROVIDER) return true;
  if (platform === 'darwin' || platform === 'win32') return true;
  return fileExists('/dev/nvidia0') || fileExists('/dev/dxg');
}

export interface ProviderAttempt<T> {
  provider: ExecutionProviderName;
  value: T;
  failures: ProviderSkip[];
}

/** Runs `open` for each candidate until one succeeds; cpu failing means the model is broken. */
export async function firstWorkingProvider<T>(
  candidates: ExecutionProviderName[],
  open: (provider: ExecutionProviderName) => Promise<T>,
): Promise<ProviderAttempt<T>> {
  const failures: ProviderSkip[] = [];
  for (const provider of candidates) {
    try {
      return { provider, value: await open(provider), failures };
    } catch (err) {
      failures.push({ provider, reason: err instanceof Error ? err.message.split('\n')[0] : String(err) });
      if (provider === 'cpu') {
        throw new VistaError(SystemErrorCode.MODEL_INVALID, `onnxruntime could not load the model: ${failures[failures.length - 1].reason}`, {
          cause: err,
          details: { failures },
        });
      }
    }
  }
  throw new VistaError(SystemErrorCode.MODEL_INVALID, 'no execution provider could load the model', { details: { failures } });
}
