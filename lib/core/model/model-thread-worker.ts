/**
 * Runs inside a worker thread: loads the CLIP model and answers embedding requests. onnxruntime-node
 * runs a session synchronously on the calling thread, so keeping sessions here is what keeps the
 * main event loop free to start decodes and fetches while the model works.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ImageErrorCode, SystemErrorCode, VistaError, isVistaErrorCode } from '../errors';
import { annotateEmbeddings, transferablesOf, type Tagger } from '../pipeline/annotations';
import { makeTagger } from '../tags';
import type { ClipModel } from '../types';
import { loadClipModel } from './load-clip-model';
import type { ThreadInit, ThreadMessage, ThreadRequest } from './model-thread-protocol';

const port = parentPort!;
const post = (message: ThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
// Only Vista's own codes cross the boundary: an S3 or Node error code (SlowDown, ENOENT) is not one,
// and the parent must not mistake it for a permanent failure.
const errorOf = (err: unknown) => {
  const code = (err as { code?: unknown }).code;
  return { ...(err instanceof VistaError && isVistaErrorCode(code) ? { code } : {}), message: err instanceof Error ? err.message : String(err) };
};

function pack(embeddings: Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(embeddings.length * dim);
  embeddings.forEach((e, i) => out.set(e, i * dim));
  return out;
}

/** The batch tensor, filled here from the shared slots: the main thread never copies pixels. */
function packImages(images: Float32Array[]): Float32Array {
  const per = images[0]?.length ?? 0;
  const out = new Float32Array(images.length * per);
  images.forEach((image, i) => {
    if (image.length !== per) throw new VistaError(ImageErrorCode.MODEL_FAILED, `image ${i} has ${image.length} pixel values, not ${per}`);
    out.set(image, i * per);
  });
  return out;
}

let tagger: Tagger | undefined;

async function serve(model: ClipModel, request: ThreadRequest): Promise<void> {
  try {
    if (request.op === 'close') {
      await model.close();
      post({ kind: 'result', id: request.id });
      port.close();
      return;
    }
    if (request.op === 'setTagger') {
      tagger = makeTagger(request.bank, request.taxonomy, model.logitScale);
      post({ kind: 'result', id: request.id });
      return;
    }
    if (request.op === 'annotateImageList') {
      if (!tagger) throw new VistaError(SystemErrorCode.TAXONOMY_INVALID, 'annotateImageList before setTagger');
      const embeddings = await model.embedImages(packImages(request.images), request.images.length);
      const annotated = annotateEmbeddings(embeddings, model.embedDim, request.naming, tagger);
      post({ kind: 'result', id: request.id, annotated }, transferablesOf(annotated));
      return;
    }
    const embeddings =
      request.op === 'embedImages'
        ? await model.embedImages(request.pixels, request.count)
        : request.op === 'embedImageList'
          ? await model.embedImages(packImages(request.images), request.images.length)
          : await model.embedTexts(request.texts);
    const packed = pack(embeddings, model.embedDim);
    post({ kind: 'result', id: request.id, embeddings: packed }, [packed.buffer as ArrayBuffer]);
  } catch (err) {
    post({ kind: 'result', id: request.id, error: errorOf(err) });
  }
}

async function start(): Promise<void> {
  const init = workerData as ThreadInit;
  let model: ClipModel;
  try {
    model = await loadClipModel(init.location, { ...init.options, logger: (line) => post({ kind: 'log', line }) });
  } catch (err) {
    post({ kind: 'failed', error: errorOf(err) });
    return;
  }
  // One request at a time, in order: the sessions are not meant to be run concurrently.
  let queue = Promise.resolve();
  port.on('message', (request: ThreadRequest) => {
    queue = queue.then(() => serve(model, request));
  });
  const { id, embedDim, preprocess, logitScale, provider } = model;
  post({ kind: 'ready', model: { id, embedDim, preprocess, logitScale, provider } });
}

void start();
