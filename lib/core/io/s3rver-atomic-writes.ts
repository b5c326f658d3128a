/**
 * s3rver 3.7 answers a PUT (and an UploadPart) before the object's file is on disk: it resolves
 * when its checksum stream ends, not when the file stream behind it has flushed, and it writes the
 * object file in place. A read, a listing or a CompleteMultipartUpload right after the 200 can see
 * the file empty or cut short (LanceDB then fails with "Range started at 0 and ended at 0"), which
 * AWS S3 never shows. This replaces the two methods on one server's store so that each writes to
 * a hidden temporary file, waits for it to be closed, and renames it into place: the object
 * appears whole or not at all, before the answer is sent.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** The parts of s3rver's FilesystemStore used here (it ships no type declarations). */
export interface S3rverFilesystemStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
  putPart(bucket: string, uploadId: string, partNumber: number, content: Readable): Promise<{ size: number; md5: string }>;
}

interface S3rverObject {
  bucket: string;
  key: string;
  metadata: unknown;
  content: Buffer | Readable;
}

/** Writes `content` to `target` through a temporary file beside it; resolves once renamed into place. */
async function writeWhole(target: string, content: Buffer | Readable): Promise<{ size: number; md5: string }> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  // Not ending in "._S3rver_object": s3rver's listings skip it.
  const temp = `${target}.${randomBytes(6).toString('hex')}.partial`;
  const md5 = createHash('md5');
  let size = 0;
  try {
    if (Buffer.isBuffer(content)) {
      md5.update(content);
      size = content.length;
      await fs.writeFile(temp, content);
    } else {
      const measure = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          md5.update(chunk);
          size += chunk.length;
          callback(null, chunk);
        },
      });
      await pipeline(content, measure, createWriteStream(temp));
    }
    await fs.rename(temp, target);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  return { size, md5: md5.digest('hex') };
}

export function makeS3rverWritesAtomic(store: S3rverFilesystemStore): void {
  store.putObject = async (object) => {
    const written = await writeWhole(store.getResourcePath(object.bucket, object.key, 'object'), object.content);
    await store.putMetadata(object.bucket, object.key, object.metadata, written.md5);
    return written;
  };
  store.putPart = async (bucket, uploadId, partNumber, content) => {
    const partPath = path.join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId, partNumber.toString());
    const written = await writeWhole(partPath, content);
    await fs.writeFile(`${partPath}.md5`, written.md5);
    return written;
  };
}
