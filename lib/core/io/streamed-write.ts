/**
 * An object written as it is produced, with memory bounded by one part whatever its size, and
 * still atomic: a local file goes to a temporary name and is renamed on commit; an S3 object
 * small enough for one part is one PUT, a larger one a multipart upload that only appears when
 * completed (aborted on failure; the buckets' lifecycle rule aborts what a crash leaves).
 */
import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { ByteBuilder } from './byte-builder';
import { toLocalPath, writeAtomic } from './location';
import { openOutputFile, type OutputFile } from './output-file';
import { getS3Client, isS3Uri, parseS3Uri } from './s3';

/** Bytes per part: above S3's 5 MiB minimum for every part but the last. */
export const STREAMED_PART_BYTES = 8 * 1024 * 1024;

export interface StreamedObject {
  /** Appends text (UTF-8); writes a part out when one is full. */
  write(text: string): Promise<void>;
  /** Bytes written so far. */
  readonly bytes: number;
  /** Makes the object appear, whole. */
  commit(): Promise<void>;
  /** Leaves nothing behind (idempotent). */
  abort(): Promise<void>;
}

interface PartSink {
  part(bytes: Buffer): Promise<void>;
  finish(last: Buffer): Promise<void>;
  abort(): Promise<void>;
}

function localSink(uri: string): PartSink {
  const file = toLocalPath(uri);
  let out: OutputFile | undefined;
  return {
    async part(bytes) {
      out ??= await openOutputFile(file);
      // A copy: the caller reuses its buffer, and a write smaller than the stream's high-water
      // mark is queued, not yet written, when it resolves.
      await out.write(Buffer.from(bytes));
    },
    async finish(last) {
      if (!out) return writeAtomic(uri, last);
      await out.write(last);
      await out.commit();
      out = undefined;
    },
    async abort() {
      await out?.abort();
      out = undefined;
    },
  };
}

function s3Sink(uri: string, contentType: string | undefined): PartSink {
  const { bucket: Bucket, key: Key } = parseS3Uri(uri);
  const client = getS3Client();
  let uploadId: string | undefined;
  const parts: { PartNumber: number; ETag: string | undefined }[] = [];
  const upload = async (bytes: Buffer) => {
    if (!uploadId) uploadId = (await client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: contentType }))).UploadId;
    const PartNumber = parts.length + 1;
    const answer = await client.send(new UploadPartCommand({ Bucket, Key, UploadId: uploadId, PartNumber, Body: bytes, ContentLength: bytes.length }));
    parts.push({ PartNumber, ETag: answer.ETag });
  };
  return {
    part: upload,
    async finish(last) {
      if (!uploadId) return writeAtomic(uri, last, contentType);
      if (last.length > 0) await upload(last);
      await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      uploadId = undefined;
    },
    async abort() {
      if (!uploadId) return;
      const id = uploadId;
      uploadId = undefined;
      await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: id })).catch(() => undefined);
    },
  };
}

export function openStreamedObject(uri: string, options: { contentType?: string; partBytes?: number } = {}): StreamedObject {
  const partBytes = options.partBytes ?? STREAMED_PART_BYTES;
  const sink = isS3Uri(uri) ? s3Sink(uri, options.contentType) : localSink(uri);
  const pending = new ByteBuilder(Math.min(partBytes, 64 * 1024));
  let bytes = 0;
  let done = false;
  return {
    async write(text) {
      if (done) throw new Error(`${uri}: written after commit or abort`);
      bytes += pending.append(text);
      if (pending.length >= partBytes) {
        await sink.part(pending.view());
        pending.reset(2 * partBytes);
      }
    },
    get bytes() {
      return bytes;
    },
    async commit() {
      if (done) throw new Error(`${uri}: committed twice, or after abort`);
      done = true;
      try {
        await sink.finish(pending.view());
      } catch (err) {
        await sink.abort();
        throw err;
      }
      pending.reset(0);
    },
    async abort() {
      done = true;
      pending.reset(0);
      await sink.abort();
    },
  };
}
