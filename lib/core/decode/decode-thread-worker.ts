/**
 * Runs inside a decode thread: fetches the image when given its URI, then the same decoder as in
 * process (so the same pixels, bit for bit), writing its tensor into the pixel slot the main
 * thread chose. sharp's work runs on
 * libuv's threadpool as before; what moves here is everything around it that used to run on the
 * main thread (sharp's per-image set-up, normalization to float, the error mapping).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VistaError, isVistaErrorCode } from '../errors';
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
  return {
    ...(err instanceof VistaError && isVistaErrorCode(code) ? { code } : {}),
    message: err instanceof Error ? err.message : String(err),
    ...(err instanceof VistaError && err.details ? { details: err.details } : {}),
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

port.on('message', (request: DecodeRequest) => {
  const target = new Float32Array(init.slots, request.slot * bytesPerSlot, init.valuesPerSlot);
  bytesOf(request).then(
    (bytes) =>
      decoder.decode(bytes, target).then(
        ({ width, height, format, contentSha256 }) => port.postMessage({ id: request.id, ok: true, width, height, format, contentSha256 } satisfies DecodeReply),
        (err: unknown) => port.postMessage({ id: request.id, ok: false, stage: 'decode', error: errorOf(err) } satisfies DecodeReply),
      ),
    (err: unknown) => port.postMessage({ id: request.id, ok: false, stage: 'fetch', error: errorOf(err) } satisfies DecodeReply),
  );
});
