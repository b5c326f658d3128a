/**
 * Decoding off the main thread: a pool of worker threads, each running the ordinary decoder, that
 * write every image's tensor straight into a shared pixel slot. The main thread only hands bytes
 * over and gets small replies back; the pixels reach the model thread through the same shared
 * memory. Measured on 2 vCPUs with the tiny model, this took the main thread from ~1 ms of CPU per
 * image to the figure in docs/benchmarks.md, which is what capped a GPU worker's throughput.
 *
 * Images keep their slot until `release()` (the enricher calls it once the model has read the
 * pixels); size `slots` for everything that may be decoded and not yet embedded, or decoding waits.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ImageErrorCode, VistaError, isVistaErrorCode } from '../errors';
import type { SourceConfigInput } from '../io/source';
import type { DecodedImage, PreprocessSpec } from '../types';
import { parseDecoderConfig, type Decoder, type DecoderConfigInput } from './decoder';
import { AWS_ENV_KEYS, type DecodeReply, type DecodeRequest, type DecodeThreadInit } from './decode-thread-protocol';
import { PixelSlots } from './pixel-slots';

const isSharedBuffer = (b: ArrayBufferLike) => Object.prototype.toString.call(b) === '[object SharedArrayBuffer]';

export interface DecodePoolOptions {
  /** How threads fetch in `fetchAndDecode`. @default the source's defaults */
  source?: SourceConfigInput;
  /** Decode threads. @default one per core */
  threads?: number;
  /** Pixel slots: images decoded and not yet released. */
  slots: number;
}

export interface DecodePool extends Decoder {
  /**
   * `decode` that takes the bytes' memory over instead of copying it (the caller's Buffer is
   * emptied): what the shard pipeline uses, since a structured-clone copy of each ~0.5 MB image
   * cost the main thread more than everything else it does per image.
   */
  decodeOwned(bytes: Buffer): Promise<DecodedImage>;
  /**
   * Fetch and decode in a thread: the main thread sends the URI and gets the reply, nothing more.
   * Made for a shard's throughput: the reply may wait a few milliseconds to travel with others.
   * A failed fetch throws the source's typed error (FETCH_FAILED when untyped), a failed decode the
   * decoder's (CORRUPT_IMAGE when untyped).
   */
  fetchAndDecode(uri: string): Promise<DecodedImage>;
  readonly threads: number;
  readonly slots: PixelSlots;
  /** Stops the threads; decodes still in flight fail. */
  close(): Promise<void>;
}

interface Pending {
  slot: number;
  resolve: (image: DecodedImage) => void;
  reject: (err: Error) => void;
}

interface DecodeThread {
  worker: Worker;
  pending: Map<number, Pending>;
  /** The AWS settings this thread was last sent. */
  env?: string;
  /** Requests of this turn of the event loop, sent together at its end (with their transfers). */
  outbox: DecodeRequest[];
  transfers: ArrayBuffer[];
}

const awsEnv = () => JSON.stringify(AWS_ENV_KEYS.map((k) => process.env[k] ?? null));

/** The thread script: compiled JS next to this file, or the TS source run through tsx. */
function threadEntry(): { file: string; execArgv: string[] } {
  const js = path.join(__dirname, 'decode-thread-worker.js');
  if (existsSync(js)) return { file: js, execArgv: [] };
  return { file: path.join(__dirname, 'decode-thread-worker.ts'), execArgv: ['--require', require.resolve('tsx/cjs')] };
}

export function makeDecodePool(input: DecoderConfigInput, spec: PreprocessSpec, options: DecodePoolOptions): DecodePool {
  const config = parseDecoderConfig(input);
  const threadCount = options.threads ?? availableParallelism();
  if (!Number.isInteger(threadCount) || threadCount < 1) throw new RangeError(`threads must be a positive integer, got ${threadCount}`);
  const valuesPerSlot = 3 * spec.cropSize * spec.cropSize;
  const slots = new PixelSlots(options.slots, valuesPerSlot);
  const entry = threadEntry();
  const init: DecodeThreadInit = { config, spec, slots: slots.buffer, valuesPerSlot, source: options.source ?? {} };
  let nextId = 1;
  let closed = false;

  const settle = (thread: DecodeThread, reply: DecodeReply) => {
    const p = thread.pending.get(reply.id);
    if (!p) return;
    thread.pending.delete(reply.id);
    // Idle threads must not keep the process alive.
    if (thread.pending.size === 0) thread.worker.unref();
    if (reply.ok) {
      let released = false;
      const { width, height, format, contentSha256 } = reply;
      p.resolve({
        pixels: slots.view(p.slot),
        width,
        height,
        format,
        contentSha256,
        release: () => {
          if (released) return;
          released = true;
          slots.release(p.slot);
        },
      });
    } else {
      slots.release(p.slot);
      const { code, message, details } = reply.error;
      const fallback = reply.stage === 'fetch' ? ImageErrorCode.FETCH_FAILED : ImageErrorCode.CORRUPT_IMAGE;
      // The stage goes with the error: a caller of fetchAndDecode retries transient fetch failures, never decode ones.
      p.reject(new VistaError(isVistaErrorCode(code) ? code : fallback, message, { details: { ...details, stage: reply.stage } }));
    }
  };

  const spawn = (): DecodeThread => {
    const thread: DecodeThread = { worker: new Worker(entry.file, { workerData: init, execArgv: entry.execArgv }), pending: new Map(), outbox: [], transfers: [] };
    thread.worker.unref();
    thread.worker.on('message', (replies: DecodeReply[]) => {
      for (const reply of replies) settle(thread, reply);
    });
    const died = (reason: string) => {
      // The images in flight there are lost with it: each becomes a failure row, and a new thread
      // takes the dead one's place so the shard goes on.
      for (const p of thread.pending.values()) {
        slots.release(p.slot);
        p.reject(new VistaError(ImageErrorCode.CORRUPT_IMAGE, `decode thread stopped while decoding this image: ${reason}`));
      }
      thread.pending.clear();
      thread.outbox = [];
      thread.transfers = [];
      const index = threads.indexOf(thread);
      if (!closed && index >= 0) threads[index] = spawn();
    };
    thread.worker.on('error', (err) => died(err.message));
    thread.worker.on('exit', (code) => died(`exit code ${code}`));
    return thread;
  };
  const threads: DecodeThread[] = Array.from({ length: threadCount }, spawn);

  const send = async (what: { bytes: Uint8Array } | { uri: string; gather: true }): Promise<DecodedImage> => {
    if (closed) throw new VistaError(ImageErrorCode.CORRUPT_IMAGE, 'decoder closed');
    const slot = await slots.acquire();
    const thread = leastBusy();
    const id = nextId++;
    const request: DecodeRequest = { id, slot, ...what };
    return new Promise<DecodedImage>((resolve, reject) => {
      thread.pending.set(id, { slot, resolve, reject });
      if (thread.pending.size === 1) thread.worker.ref();
      if ('bytes' in what) thread.transfers.push(what.bytes.buffer as ArrayBuffer);
      if (thread.outbox.push(request) === 1) setImmediate(() => flush(thread));
    });
  };
  const flush = (thread: DecodeThread) => {
    const [requests, transfers] = [thread.outbox, thread.transfers];
    if (requests.length === 0) return; // the thread died meanwhile: its requests were failed
    thread.outbox = [];
    thread.transfers = [];
    // The AWS settings are read once per message (reading process.env costs), and go along when
    // they changed since this thread last saw them: before its first fetch, which the thread
    // runs first.
    const firstFetch = requests.find((r) => 'uri' in r);
    if (firstFetch && 'uri' in firstFetch) {
      const env = awsEnv();
      if (thread.env !== env) {
        firstFetch.env = Object.fromEntries(AWS_ENV_KEYS.map((k) => [k, process.env[k]]));
        thread.env = env;
      }
    }
    thread.worker.postMessage(requests, transfers);
  };
  const decode = (bytes: Buffer, owned: boolean): Promise<DecodedImage> => {
    // The bytes' memory moves to the thread (transfer, no copy) when it is the caller's to give
    // and holds nothing else; otherwise one plain copy is made and moved.
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !isSharedBuffer(bytes.buffer);
    return send({ bytes: owned && whole ? bytes : new Uint8Array(bytes) });
  };

  const leastBusy = () => threads.reduce((best, t) => (t.pending.size < best.pending.size ? t : best));

  return {
    threads: threadCount,
    slots,
    decode: (bytes: Buffer) => decode(bytes, false),
    decodeOwned: (bytes: Buffer) => decode(bytes, true),
    fetchAndDecode: (uri: string) => send({ uri, gather: true }),
    async close() {
      closed = true;
      await Promise.all(threads.map((t) => t.worker.terminate()));
    },
  };
}
