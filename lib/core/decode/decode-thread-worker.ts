/**
 * Runs inside a decode thread: fetches the image when given its URI, then the same decoder as in
 * process (so the same pixels, bit for bit), writing its tensor into the pixel slot the main
 * thread chose. sharp's work runs on
 * libuv's threadpool as before; what moves here is everything around it that used to run on the
 * main thread (sharp's per-image set-up, normalization to float, the error mapping).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VistaError, isVistaErrorCode } from '../errors';
import { TransientError } from '../io/retry';
import { makeImageSource } from '../io/source';
import { makeDecoder } from './decoder';
import type { DecodeReply, DecodeRequest, DecodeThreadInit } from './decode-thread-protocol';

const init = workerData as DecodeThreadInit;
const decoder = makeDecoder(init.config, init.spec);
const port = parentPort!;
const bytesPerSlot = init.valuesPerSlot * Float32Array.BYTES_PER_ELEMENT;
const source = makeImageSource(init.source);

const errorOf = (err: unknown) => {
  const code = (err as { code?: unknown }).code;
  // A TransientError's class does not cross the thread boundary: it is said in the details.
  const details = err instanceof TransientError ? { ...err.details, transient: true } : err instanceof VistaError ? err.details : undefined;
  return {
    ...(err instanceof VistaError && isVistaErrorCode(code) ? { code } : {}),
    message: err instanceof Error ? err.message : String(err),
    ...(details ? { details } : {}),
  };
};

async function bytesOf(request: DecodeRequest): Promise<Buffer> {
  if ('uri' in request) {
    for (const [key, value] of Object.entries(request.env ?? {})) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    return source.fetch(request.uri);
  }
  return Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength);
}

/*
 * Replies leave in groups: one message per group is what the main thread pays for, not one per
 * image. A reply that may wait (`request.gather`: a shard's throughput path) waits at most
 * REPLY_GATHER_MS for others, and never when this thread has nothing else in flight (the last
 * images of a shard, or a lone image); any other reply leaves at the end of this turn of the
 * event loop with whatever is ready.
 */
const REPLY_GATHER_MS = 10;
let outbox: DecodeReply[] = [];
let inFlight = 0;
let timer: NodeJS.Timeout | undefined;
let immediate: NodeJS.Immediate | undefined;
const reply = (r: DecodeReply, gather: boolean) => {
  inFlight--;
  outbox.push(r);
  if (!gather || inFlight === 0) immediate ??= setImmediate(sendReplies);
  else timer ??= setTimeout(sendReplies, REPLY_GATHER_MS);
};
const sendReplies = () => {
  clearTimeout(timer);
  clearImmediate(immediate);
  timer = immediate = undefined;
  if (outbox.length === 0) return;
  const replies = outbox;
  outbox = [];
  port.postMessage(replies);
};

port.on('message', (requests: DecodeRequest[]) => {
  for (const request of requests) handle(request);
});

function handle(request: DecodeRequest): void {
  inFlight++;
  const gather = request.gather === true;
  const target = new Float32Array(init.slots, request.slot * bytesPerSlot, init.valuesPerSlot);
  bytesOf(request).then(
    (bytes) =>
      decoder.decode(bytes, target).then(
        ({ width, height, format, contentSha256 }) => reply({ id: request.id, ok: true, width, height, format, contentSha256 }, gather),
        (err: unknown) => reply({ id: request.id, ok: false, stage: 'decode', error: errorOf(err) }, gather),
      ),
    (err: unknown) => reply({ id: request.id, ok: false, stage: 'fetch', error: errorOf(err) }, gather),
  );
}
