/**
 * Loads a CLIP model (HF ONNX export layout, local folder or s3:// prefix) onto the best working
 * execution provider and logs exactly one line saying which one runs and why others were skipped.
 */
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ClipModel, ExecutionProviderName } from '../types';
import { loadClipTokenizer } from './clip-tokenizer';
import { readModelSpec } from './model-config';
import { MODEL_FILES, modelName, resolveModelFolder } from './model-files';
import { computeModelId } from './model-id';
import { type ClipSessions, makeOnnxClipModel } from './onnx-clip-model';
import { type ProviderRequest, firstWorkingProvider, gpuPlausiblyPresent, planProviders, resolveProviderRequest } from './providers';

export interface ModelRuntimeOptions {
  /** @default 'auto' (or env VISTA_PROVIDER): cuda → webgpu → cpu */
  provider?: ProviderRequest;
  /** ONNX Runtime intra-op threads. @default the number of cores */
  intraOpThreads?: number;
  /** Receives one structured line about the chosen provider. @default JSON on stderr */
  logger?: (line: object) => void;
  /** Where s3:// models are downloaded. @default .vista/models */
  cacheDir?: string;
}

const defaultLogger = (line: object): void => {
  process.stderr.write(`${JSON.stringify(line)}\n`);
};

function sessionOptions(provider: ExecutionProviderName, threads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // onnxruntime's threads spin-wait between operators by default. In the worker they share the
    // cores with sharp's decoders, and spinning would burn the CPU time the decoders need.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

async function openSessions(dir: string, options: ort.InferenceSession.SessionOptions): Promise<ClipSessions> {
  const vision = await ort.InferenceSession.create(path.join(dir, MODEL_FILES.vision), options);
  try {
    const text = await ort.InferenceSession.create(path.join(dir, MODEL_FILES.text), options);
    return { vision, text };
  } catch (err) {
    await vision.release();
    throw err;
  }
}

export async function loadClipModel(location: string, options: ModelRuntimeOptions = {}): Promise<ClipModel> {
  const started = Date.now();
  const requested = resolveProviderRequest(options.provider);
  const dir = await resolveModelFolder(location, options.cacheDir);
  const spec = await readModelSpec(dir);
  const tokenizer = await loadClipTokenizer(dir, spec.contextLength);
  const id = await computeModelId(modelName(location), dir);

  const plan = planProviders({
    requested,
    available: ort.listSupportedBackends().map((b) => b.name),
    gpuPresent: gpuPlausiblyPresent(),
  });
  const threads = options.intraOpThreads ?? availableParallelism();
  const { provider, value: sessions, failures } = await firstWorkingProvider(plan.candidates, (p) =>
    openSessions(dir, sessionOptions(p, threads)),
  );

  let model: ClipModel;
  try {
    model = makeOnnxClipModel({ id, spec, provider, sessions, tokenizer });
  } catch (err) {
    await Promise.all([sessions.vision.release(), sessions.text.release()]);
    throw err;
  }
  (options.logger ?? defaultLogger)({
    event: 'model_loaded',
    model_id: id,
    provider,
    requested,
    skipped: [...plan.skipped, ...failures],
    intra_op_threads: threads,
    embed_dim: spec.embedDim,
    load_ms: Date.now() - started,
  });
  return model;
}
