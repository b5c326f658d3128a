/**
 * Runs inside a decode thread: the same decoder as in process (so the same pixels, bit for bit),
 * writing each image's tensor into the pixel slot the main thread chose. sharp's work runs on
 * libuv's threadpool as before; what moves here is everything around it that used to run on the
 * main thread (sharp's per-image set-up, normalization to float, the error mapping).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VistaError, isVistaErrorCode } from '../errors';
import { makeDecoder } from './decoder';
import type { DecodeReply, DecodeRequest, DecodeThreadInit } from './decode-thread-protocol';

const init = workerData as DecodeThreadInit;
const decoder = makeDecoder(init.config, init.spec);
const port = parentPort!;
const bytesPerSlot = init.valuesPerSlot * Float32Array.BYTES_PER_ELEMENT;

port.on('message', (request: DecodeRequest) => {
  const target = new Float32Array(init.slots, request.slot * bytesPerSlot, init.valuesPerSlot);
  const bytes = Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength);
  decoder.decode(bytes, target).then(
    (image) => {
      const { width, height, format, contentSha256 } = image;
      port.postMessage({ id: request.id, ok: true, width, height, format, contentSha256 } satisfies DecodeReply);
    },
    (err: unknown) => {
      const code = (err as { code?: unknown }).code;
      const error = {
        ...(err instanceof VistaError && isVistaErrorCode(code) ? { code } : {}),
        message: err instanceof Error ? err.message : String(err),
        ...(err instanceof VistaError && err.details ? { details: err.details } : {}),
      };
      port.postMessage({ id: request.id, ok: false, error } satisfies DecodeReply);
    },
  );
});
