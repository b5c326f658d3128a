/**
 * A ClipModel whose onnxruntime sessions live in a worker thread. onnxruntime-node runs inference
 * synchronously on the calling thread (inside a setImmediate), which would freeze the pipeline's
 * event loop for the whole model call: no decode or fetch could start or finish meanwhile, and on
 * a GPU machine the CPUs would sit idle while the GPU works. Measured on an H100 with WebGPU, that
 * cost ~40% of end-to-end throughput. Pixels and embeddings cross the thread boundary as
 * transferred buffers (no copy).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ImageErrorCode, SystemErrorCode, VistaError, type VistaErrorCode } from '../errors';
import type { AnnotatedBatch, ImageAnnotator } from '../pipeline/annotations';
import type { LabelBank, Taxonomy } from '../tags';
import type { ClipModel } from '../types';
import type { ModelRuntimeOptions } from './load-clip-model';
import type { ModelDescription, ThreadInit, ThreadMessage, ThreadRequest } from './model-thread-protocol';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Result = Extract<ThreadMessage, { kind: 'result' }>;
type Pending = { resolve: (result: Result) => void; reject: (err: Error) => void };

/** A model in its own thread, which can also tag and name the images it embeds there. */
export interface ThreadedClipModel extends ClipModel {
  /** Sends the tagger to the thread; the annotator then embeds, tags and names each batch there. */
  annotatorFor(bank: LabelBank, taxonomy: Taxonomy): Promise<ImageAnnotator>;
}

export function isThreadedClipModel(model: ClipModel): model is ThreadedClipModel {
  return typeof (model as Partial<ThreadedClipModel>).annotatorFor === 'function';
}

/** The worker script: compiled JS next to this file, or the TS source run through tsx. */
function workerEntry(): { file: string; execArgv: string[] } {
  const js = path.join(__dirname, 'model-thread-worker.js');
  if (existsSync(js)) return { file: js, execArgv: [] };
  return { file: path.join(__dirname, 'model-thread-worker.ts'), execArgv: ['--require', require.resolve('tsx/cjs')] };
}

export async function loadClipModelInThread(location: string, options: ModelRuntimeOptions = {}): Promise<ThreadedClipModel> {
  const { logger, ...rest } = options;
  const entry = workerEntry();
  const worker = new Worker(entry.file, { workerData: { location, options: rest } satisfies ThreadInit, execArgv: entry.execArgv });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let dead: Error | undefined;

  const description = await new Promise<ModelDescription>((resolve, reject) => {
    const onMessage = (message: ThreadMessage) => {
      if (message.kind === 'log') (logger ?? ((l: object) => process.stderr.write(`${JSON.stringify(l)}\n`)))(message.line);
      else if (message.kind === 'ready') resolve(message.model);
      else if (message.kind === 'failed') {
        void worker.terminate();
        // Without a Vista code (S3 throttling, credentials…) the failure may be transient: a plain error exits 1.
        reject(message.error.code ? new VistaError(message.error.code as VistaErrorCode, message.error.message) : new Error(message.error.message));
      } else if (message.kind === 'result') {
        const p = pending.get(message.id);
        pending.delete(message.id);
        if (!p) return;
        if (message.error) p.reject(new VistaError((message.error.code as VistaErrorCode) ?? ImageErrorCode.MODEL_FAILED, message.error.message));
        else p.resolve(message);
      }
    };
    worker.on('message', onMessage);
    const die = (err: Error) => {
      dead ??= new VistaError(SystemErrorCode.MODEL_UNAVAILABLE, `model thread stopped: ${err.message}`, { cause: err });
      for (const p of pending.values()) p.reject(dead);
      pending.clear();
      reject(dead);
    };
    worker.on('error', die);
    worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
  });

  const call = (request: WithoutId<ThreadRequest>, transfer: ArrayBuffer[] = []) =>
    new Promise<Result>((resolve, reject) => {
      if (dead) return reject(dead);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...request, id } as ThreadRequest, transfer);
    });
  const split = ({ embeddings }: Result, count: number) =>
    Array.from({ length: count }, (_, i) => embeddings!.subarray(i * description.embedDim, (i + 1) * description.embedDim));

  return {
    ...description,
    async embedImages(pixels, count) {
      // The caller's buffer is handed over, not copied: it must not be reused after this call.
      return split(await call({ op: 'embedImages', pixels, count }, [pixels.buffer as ArrayBuffer]), count);
    },
    async embedImageList(images) {
      // Shared memory crosses as is; other arrays are copied by postMessage (never transferred: they stay the caller's).
      return split(await call({ op: 'embedImageList', images: [...images] }), images.length);
    },
    async embedTexts(texts) {
      return split(await call({ op: 'embedTexts', texts }), texts.length);
    },
    async annotatorFor(bank, taxonomy) {
      await call({ op: 'setTagger', bank, taxonomy });
      return {
        // Like embedImageList: shared memory crosses as is, other arrays are copied.
        annotate: async (images, naming) => (await call({ op: 'annotateImageList', images: [...images], naming: [...naming] })).annotated as AnnotatedBatch,
      };
    },
    async close() {
      if (dead) return;
      await call({ op: 'close' }).catch(() => undefined);
      dead = new VistaError(SystemErrorCode.MODEL_UNAVAILABLE, 'model closed');
      await worker.terminate();
    },
  };
}
