export { loadClipModel, type ModelRuntimeOptions } from './load-clip-model';
export { makeClipTokenizer, loadClipTokenizer, type ClipTokenizer, type TokenBatch } from './clip-tokenizer';
export { parseModelSpec, readModelSpec, type ModelSpec } from './model-config';
export { MODEL_FILES, DEFAULT_MODEL_CACHE_DIR, modelName, resolveModelFolder } from './model-files';
export { computeModelId } from './model-id';
export { planProviders, resolveProviderRequest, gpuPlausiblyPresent, type ProviderRequest, type ProviderPlan } from './providers';
export { float32ToFloat16, float16ToFloat32 } from './float16';
